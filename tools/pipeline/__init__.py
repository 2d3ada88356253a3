"""The request pipeline, apart from the tools it serves: arguments and schemas in, context and consultation
through, one response envelope out.

`dispatch` runs every call (validate, resolve, run the tool, commit its turns, shape the reply); `context`
is what a tool receives; `inputs` reads files, images and history for a call; `consult` is the one path
from a tool to a model; `progress` keeps a client waiting through a long call; `fit` words refusals of
files that cannot fit; `envelope` is the reply; `listing`, `schema` and `arguments` are what clients see
of the tools and how their arguments are read.
"""
