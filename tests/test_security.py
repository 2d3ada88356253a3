"""Path policy and secret redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import require
from utils.gate.security import FileMissingError, PathPolicy, PathRefusedError
from utils.privacy.redaction import redact_secrets


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("print('hi')\n")
    return project


@pytest.fixture
def policy(root: Path) -> PathPolicy:
    return PathPolicy(allowed_roots=(root,))


def test_a_file_inside_the_root_is_returned_resolved(root: Path, policy: PathPolicy) -> None:
    assert policy.check(f"{root}/src/../src/app.py") == (root / "src" / "app.py").resolve()


def test_a_directory_inside_the_root_is_allowed(root: Path, policy: PathPolicy) -> None:
    assert policy.check(str(root / "src")) == (root / "src").resolve()


def test_tilde_expands_to_the_home_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(root))
    assert PathPolicy(allowed_roots=(Path("~"),)).check("~/src/app.py") == (root / "src" / "app.py").resolve()


@pytest.mark.parametrize("raw", ["src/app.py", "./src/app.py", "app.py"])
def test_relative_paths_are_refused_with_an_absolute_example(policy: PathPolicy, raw: str) -> None:
    with pytest.raises(PathRefusedError, match=r"Path must be absolute: .*Pass the full path, e\.g\. '/home/me/project/"):
        policy.check(raw)


@pytest.mark.parametrize("raw", ["", "   ", "/tmp/a\x00b"])
def test_empty_or_malformed_paths_are_refused(policy: PathPolicy, raw: str) -> None:
    with pytest.raises(PathRefusedError, match="empty or malformed"):
        policy.check(raw)


def test_dot_dot_cannot_climb_out_of_the_root(root: Path, policy: PathPolicy) -> None:
    (root.parent / "outside.txt").write_text("x")
    with pytest.raises(PathRefusedError, match="outside the allowed directories"):
        policy.check(f"{root}/src/../../outside.txt")


def test_a_symlink_leading_out_of_the_root_is_refused(root: Path, policy: PathPolicy) -> None:
    (root.parent / "outside.txt").write_text("x")
    (root / "link.txt").symlink_to(root.parent / "outside.txt")
    with pytest.raises(PathRefusedError, match="resolves to .*outside the allowed directories"):
        policy.check(str(root / "link.txt"))


@pytest.mark.parametrize("target", ["/etc/passwd", "/etc/hostname", "/proc/self/status", "/dev/null", "/usr/bin/env"])
def test_a_symlink_into_a_system_directory_is_refused(root: Path, policy: PathPolicy, target: str) -> None:
    require(Path(target).exists(), f"{target} does not exist on this system")
    (root / "innocent.txt").symlink_to(target)
    with pytest.raises(PathRefusedError, match="system directory"):
        policy.check(str(root / "innocent.txt"))


def test_a_root_of_slash_does_not_open_system_directories() -> None:
    with pytest.raises(PathRefusedError, match="system directory '/etc'"):
        PathPolicy(allowed_roots=(Path("/"),)).check("/etc/passwd")


def test_a_root_inside_a_system_directory_may_be_read_when_allowed_explicitly() -> None:
    target = Path("/usr/bin/env").resolve()
    require(target.is_file() and target.is_relative_to("/usr"), "no /usr/bin/env on this system")
    assert PathPolicy(allowed_roots=(target.parent,)).check(str(target)) == target


def test_with_no_allowed_roots_everything_is_refused_and_the_message_names_the_fixes_the_user_controls(root: Path) -> None:
    with pytest.raises(PathRefusedError) as info:
        PathPolicy(allowed_roots=()).check(str(root / "src" / "app.py"))
    assert "QUORUM_ALLOWED_ROOTS" in str(info.value) and "roots" in str(info.value)
    # A tool call cannot widen the roots, so the message must not suggest one.
    assert "working_directory_absolute_path" not in str(info.value)


def test_with_roots_adds_the_working_directory(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("a")
    assert PathPolicy(allowed_roots=(root,)).with_roots(other).check(str(other / "a.txt")) == other / "a.txt"


def test_a_symlinked_root_is_compared_after_resolving(root: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert PathPolicy(allowed_roots=(alias,)).check(str(root / "src" / "app.py")) == root / "src" / "app.py"


def test_a_missing_file_inside_the_root_raises_file_missing(root: Path, policy: PathPolicy) -> None:
    with pytest.raises(FileMissingError, match="No such file or directory: .*Check the spelling"):
        policy.check(str(root / "nope.py"))


def test_a_missing_file_outside_the_root_is_refused_without_saying_whether_it_exists(
    tmp_path: Path, policy: PathPolicy
) -> None:
    with pytest.raises(PathRefusedError):
        policy.check(str(tmp_path / "elsewhere" / "nope.py"))


SECRET_FILES = [
    ".env", ".env.local", ".env.production", ".ssh/config", ".ssh/id_rsa", "deploy/id_ed25519",
    ".gnupg/pubring.kbx", ".aws/credentials", ".azure/config", ".config/gcloud/credentials.db",
    ".kube/config", ".docker/config.json", ".netrc", ".npmrc", ".pypirc", ".git-credentials",
    "certs/server.pem", "certs/server.key", "certs/bundle.p12", "certs/store.pfx",
    "android/release.keystore", "credentials.json", "service-account-prod.json", "SERVICE-ACCOUNT.JSON",
]
HARMLESS_FILES = [
    ".env.example", ".env.sample", ".env.template", "id_rsa.pub", "docs/keys.md", "environment.py",
    ".config/app/settings.json", "docker/config.json", "kube/config", "keyboard.py", "credentials.py",
]


def _create(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("content")
    return path


@pytest.mark.parametrize("relative", SECRET_FILES)
def test_secret_bearing_files_are_refused(root: Path, policy: PathPolicy, relative: str) -> None:
    path = _create(root, relative)
    with pytest.raises(PathRefusedError, match="holds secrets.*QUORUM_ALLOW_SECRET_FILES"):
        policy.check(str(path))


@pytest.mark.parametrize("relative", SECRET_FILES[:6])
def test_secret_bearing_files_are_allowed_when_the_user_opts_in(root: Path, relative: str) -> None:
    path = _create(root, relative)
    assert PathPolicy(allowed_roots=(root,), allow_secret_files=True).check(str(path)) == path


@pytest.mark.parametrize("relative", HARMLESS_FILES)
def test_look_alike_harmless_files_are_allowed(root: Path, policy: PathPolicy, relative: str) -> None:
    path = _create(root, relative)
    assert policy.check(str(path)) == path


def test_a_harmless_name_linking_to_a_secret_file_is_refused(root: Path, policy: PathPolicy) -> None:
    (root / "notes.txt").symlink_to(_create(root, ".env"))
    with pytest.raises(PathRefusedError, match="holds secrets"):
        policy.check(str(root / "notes.txt"))


def test_a_secret_name_linking_to_a_harmless_file_is_refused(root: Path, policy: PathPolicy) -> None:
    (root / ".env").symlink_to(root / "src" / "app.py")
    with pytest.raises(PathRefusedError, match="holds secrets"):
        policy.check(str(root / ".env"))


# Fake credentials are assembled at run time so that this file holds no secret-shaped literal.
OPENAI = "sk-" + "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"
OPENAI_PROJECT = "sk-proj-" + "Zz9_Yy8-Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0"
ANTHROPIC = "sk-ant-" + "api03-" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x2y3z\nAbCdEf+/==\n-----END RSA PRIVATE KEY-----"

REDACTED = [
    ("openai", f"client = OpenAI(api_key='{OPENAI}')", "client = OpenAI(api_key='[REDACTED:openai_key]')"),
    ("openai project", f"OPENAI_API_KEY={OPENAI_PROJECT}", "OPENAI_API_KEY=[REDACTED:openai_key]"),
    ("anthropic", f"key: {ANTHROPIC}", "key: [REDACTED:anthropic_key]"),
    ("google", f'"{GOOGLE}"', '"[REDACTED:google_api_key]"'),
    ("aws id", f"aws_access_key_id = {AWS_ID}", "aws_access_key_id = [REDACTED:aws_access_key_id]"),
    ("aws secret", f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [REDACTED:aws_secret_access_key]"),
    ("aws secret json", f'"AWS_SECRET_ACCESS_KEY": "{AWS_SECRET}"', '"AWS_SECRET_ACCESS_KEY": "[REDACTED:aws_secret_access_key]"'),
    ("github", f"token = {GITHUB}", "token = [REDACTED:github_token]"),
    ("github pat", f"GH={GITHUB_PAT}", "GH=[REDACTED:github_token]"),
    ("slack", f"SLACK={SLACK}", "SLACK=[REDACTED:slack_token]"),
    ("jwt", f"cookie={JWT};", "cookie=[REDACTED:jwt];"),
    ("pem", f"key = '''\n{PEM}\n'''", "key = '''\n[REDACTED:private_key]\n'''"),
    ("bearer", "Authorization: Bearer abcdef0123456789abcdef0123", "Authorization: Bearer [REDACTED:bearer_token]"),
    ("env password", "DB_PASSWORD=correcthorsebattery", "DB_PASSWORD=[REDACTED:secret]"),
    ("exported token", 'export API_TOKEN="q8w7e6r5t4y3"', 'export API_TOKEN="[REDACTED:secret]"'),
    ("quoted password in code", 'password = "hunter2hunter2"', 'password = "[REDACTED:secret]"'),
    ("bytes literal", "SECRET_KEY = b'x9y8z7w6v5u4'", "SECRET_KEY = b'[REDACTED:secret]'"),
    ("json api key", '{"api_key": "0123abcd4567efgh"}', '{"api_key": "[REDACTED:secret]"}'),
    ("yaml client secret", "client_secret: 9f8e7d6c5b4a", "client_secret: [REDACTED:secret]"),
    ("ini password", "password=hunter2hunter2", "password=[REDACTED:secret]"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in REDACTED], ids=[n for n, _, _ in REDACTED])
def test_recognisable_secrets_are_redacted_once(text: str, expected: str) -> None:
    kind = expected.split("[REDACTED:", 1)[1].split("]", 1)[0]
    assert redact_secrets(text) == (expected, {kind: 1})


NOT_SECRETS = [
    ("env lookup", 'api_key = os.environ["OPENAI_API_KEY"]'),
    ("getpass", "password = getpass.getpass()"),
    ("attribute", "password = self.password"),
    ("snake name", "token = next_token"),
    ("function call", "secret = load_secret(path)"),
    ("env var name", 'api_key_env = "OPENAI_API_KEY"'),
    ("env name as value", '"api_key": "GEMINI_API_KEY"'),
    ("placeholder reference", "password: ${DB_PASSWORD}"),
    ("short value", "password = 'abc'"),
    ("max tokens", "MAX_TOKENS=4096000000"),
    ("token url", "token_url: https://example.com/oauth/token"),
    ("sha256 in a lockfile", 'hash = "sha256:3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"'),
    ("npm integrity", '"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUR9xz"'),
    ("uuid", 'thread_id = "550e8400-e29b-41d4-a716-446655440000"'),
    ("git sha", "commit 9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("task name", "run the sk-learn-pipeline task"),
    ("prose", "Set the password in your keychain; never paste an API key into chat."),
    ("pem public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----"),
    ("type annotation", "api_key: str | None = None"),
]


@pytest.mark.parametrize("text", [t for _, t in NOT_SECRETS], ids=[n for n, _ in NOT_SECRETS])
def test_ordinary_code_and_hashes_are_left_alone(text: str) -> None:
    assert redact_secrets(text) == (text, {})


def test_every_secret_in_a_file_is_counted() -> None:
    text = f"A={OPENAI}\nB={GITHUB}\nC={AWS_ID}\n{PEM}\n"
    redacted, counts = redact_secrets(text)
    assert counts == {"openai_key": 1, "github_token": 1, "aws_access_key_id": 1, "private_key": 1}
    assert all(secret not in redacted for secret in (OPENAI, GITHUB, AWS_ID, "MIIEowIBAAKCAQEA"))
