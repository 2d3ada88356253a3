"""The one input gate: every path, file, directory, image and prompt from outside passes through here.

Submodules are imported explicitly (`utils.gate.files`, `utils.gate.images`, ...) so that the path
policy in utils.gate.security can share the error vocabulary without an import cycle.
"""
