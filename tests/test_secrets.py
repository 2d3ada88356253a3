"""Secrets: every format a secret scanner knows is redacted (also inside diffs), ordinary code is not,
and files named like credential stores are refused."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utils.gate.security import is_secret_path
from utils.privacy.redaction import counting_redactions, redact_secrets, redact_tree

# Fake credentials are assembled at run time so that this file holds no secret-shaped literal.
OPENAI = "sk-" + "proj-" + "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"
ANTHROPIC = "sk-ant-" + "api03-" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITLAB = "glpat-" + "xYz12AbC34dEf56GhI78"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T01ABCDEF/B02GHIJKL/" + "q1w2e3r4t5y6u7i8o9p0a1s2"
STRIPE = "sk_" + "live_" + "51HxYzAbCdEfGhIjKlMnOpQr"
STRIPE_RESTRICTED = "rk_" + "live_" + "51HxYzAbCdEfGhIjKlMnOpQr"
HUGGINGFACE = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
SENDGRID = "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
MAILGUN = "key-" + "3ax6xnjp29jd6fds4gc373sgvjxteol0"
TWILIO = "SK" + "0123456789abcdef0123456789abcdef"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq" + "/K1SZFPTOtr/KBHBeksoGMGw=="
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM_BODY = "MIIEowIBAAKCAQEA1x2y3zAbCdEfGhIj\nKlMnOpQrStUvWxYz0123456789AbCdEf"
BASIC = "dXNlcjpodW50ZXIyaHVudGVyMg=="

R = "[REDACTED:{}]".format

FORMATS = [
    ("openai", f"OPENAI_API_KEY={OPENAI}", f"OPENAI_API_KEY={R('openai_key')}"),
    ("anthropic", f"client = Anthropic(api_key='{ANTHROPIC}')", f"client = Anthropic(api_key='{R('anthropic_key')}')"),
    ("aws", f"id {AWS_ID} here", f"id {R('aws_access_key_id')} here"),
    ("github", f"remote uses {GITHUB}", f"remote uses {R('github_token')}"),
    ("gitlab", f"GL={GITLAB}", f"GL={R('gitlab_token')}"),
    ("slack token", f"slack: {SLACK}", f"slack: {R('slack_token')}"),
    ("slack webhook", f"post to {SLACK_HOOK} now", f"post to {R('slack_webhook')} now"),
    ("stripe live", f"stripe.api_key = {STRIPE}", f"stripe.api_key = {R('stripe_key')}"),
    ("stripe restricted", f"key {STRIPE_RESTRICTED}.", f"key {R('stripe_key')}."),
    ("hugging face", f"login(token={HUGGINGFACE})", f"login(token={R('huggingface_token')})"),
    ("sendgrid", f"SendGridAPIClient('{SENDGRID}')", f"SendGridAPIClient('{R('sendgrid_key')}')"),
    ("mailgun", f"auth=('api', '{MAILGUN}')", f"auth=('api', '{R('mailgun_key')}')"),
    ("twilio", f"sid {TWILIO}", f"sid {R('twilio_key')}"),
    ("google", f"?key={GOOGLE}&q=1", f"?key={R('google_api_key')}&q=1"),
    ("azure connection string",
     f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
     f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={R('azure_key')};EndpointSuffix=core.windows.net"),
    ("jwt", f"Cookie: session={JWT}", f"Cookie: session={R('jwt')}"),
    ("pem", f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\nnext", f"{R('private_key')}\nnext"),
    ("pem without its END line", f"key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n\nWhy does ssh fail?",
     f"key:\n{R('private_key')}\n\nWhy does ssh fail?"),
    ("basic authorization", f"Authorization: Basic {BASIC}", f"Authorization: Basic {R('basic_auth')}"),
    ("bearer authorization", "curl -H 'Authorization: Bearer abcdef0123456789abcdef0123'",
     f"curl -H 'Authorization: Bearer {R('bearer_token')}'"),
    ("postgres url", "DATABASE_URL=postgres://app:s3cr3tpw@db:5432/app", f"DATABASE_URL=postgres://app:{R('url_password')}@db:5432/app"),
    ("git remote with token", "https://oauth2:t0ken-value@gitlab.example.com/x.git",
     f"https://oauth2:{R('url_password')}@gitlab.example.com/x.git"),
    ("env line with a comment", "DB_PASSWORD=hunter2hunter2   # production", f"DB_PASSWORD={R('secret')}   # production"),
    ("yaml env with a comment", "  DB_PASSWORD: hunter2hunter2  # production", f"  DB_PASSWORD: {R('secret')}  # production"),
    ("compose env without digits", "  DB_PASSWORD: correcthorsebattery", f"  DB_PASSWORD: {R('secret')}"),
    ("compose list entry", "  - DB_PASSWORD=correcthorsebattery", f"  - DB_PASSWORD={R('secret')}"),
    ("short env password", "SMTP_PASS=pa55wd", f"SMTP_PASS={R('secret')}"),
    ("signing key", "JWT_SIGNING_KEY=8f3k2j5h6g", f"JWT_SIGNING_KEY={R('secret')}"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in FORMATS], ids=[n for n, _, _ in FORMATS])
def test_each_known_secret_format_is_redacted_by_kind(text: str, expected: str) -> None:
    kind = expected.split("[REDACTED:", 1)[1].split("]", 1)[0]
    assert redact_secrets(text) == (expected, {kind: 1})


DIFF_LINES = [
    ("added", "+DB_PASSWORD=correcthorsebattery"),
    ("removed", "-DB_PASSWORD=correcthorsebattery"),
    ("context", " DB_PASSWORD=correcthorsebattery"),
    ("added export", "+export API_TOKEN='q8w7e6r5t4y3'"),
    ("added with comment", "+DB_PASSWORD=correcthorsebattery # old"),
    ("added pem line", "+-----BEGIN RSA PRIVATE KEY-----\n+MIIEowIBAAKCAQEA1x2y3zAbCdEfGhIj\n+-----END RSA PRIVATE KEY-----"),
]


@pytest.mark.parametrize("line", [t for _, t in DIFF_LINES], ids=[n for n, _ in DIFF_LINES])
def test_a_diff_prefix_does_not_hide_a_secret(line: str) -> None:
    diff = f"diff --git a/.env.production b/.env.production\n@@ -1,2 +1,2 @@\n{line}\n APP=web\n"
    redacted, counts = redact_secrets(diff)
    assert sum(counts.values()) == 1, redacted
    assert "correcthorsebattery" not in redacted and "q8w7e6r5t4y3" not in redacted and "MIIEow" not in redacted
    assert " APP=web" in redacted


NOT_SECRETS = [
    ("getter call", "password = get_password()"),
    ("attribute", "token = self.token"),
    ("diff of code", "+    token = self.token\n-    password = get_password()"),
    ("poetry lock hash", 'files = [{file = "a.whl", hash = "sha256:3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"}]'),
    ("yarn lock", 'resolved "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#19203fb59991df98e3a287050d4"'),
    ("url without password", "https://user@example.com/path and ssh://git@github.com/x.git"),
    ("url password placeholder", "postgres://app:${DB_PASSWORD}@db/app"),
    ("hugging face call", "hf_hub_download(repo_id=repo, filename=name)"),
    ("gitlab word", "the global-configuration-setting-name is used"),
    ("basic prose", "Basic authentication works the same way."),
    ("hex hash with AC", "digest AC0123456789ABCDEF0123456789ABCDEF"),
    ("python env module", "from env import settings  # env.py"),
    ("key names", "PRIMARY_KEY=id\nSORT_KEY=name"),
    ("shell cwd", "PWD=/home/me/project"),
    ("settings type annotation", "    DB_PASSWORD: SecretStr\n    API_TOKEN: Optional[str] = None"),
    ("python keyword argument", "connect(password=password, token=token)"),
    ("field names as values", '"input_token": "next_token",\nSECRET_KEY = \'aws_secret_access_key\''),
    ("header name as value", "ACCESS_KEY = 'AWSAccessKeyId'\nUSER_AGENT_KEY = 'HTTP_USER_AGENT'"),
    ("constant from a module", "ERRORTOKEN = token.ERRORTOKEN\nAES_KEY = aes_key_st"),
    ("dictionary key constants", "METADATA_KEY = 'pydantic-mypy-metadata'\nCACHE_KEY=results\n_SAM_KEY = \"lambda:createdBy\""),
    ("camel case value", 'ALLOW_CREDENTIALS = "allowCredentials"\nWaitForTaskToken = "waitForTaskToken"'),
    ("private key prose", "Load the PRIVATE KEY from the vault; never commit it."),
]


@pytest.mark.parametrize("text", [t for _, t in NOT_SECRETS], ids=[n for n, _ in NOT_SECRETS])
def test_ordinary_code_and_lock_files_are_left_alone(text: str) -> None:
    assert redact_secrets(text) == (text, {})


def test_redacting_twice_changes_nothing_more() -> None:
    once, counts = redact_secrets(f"A={OPENAI}\npassword: hunter2hunter2\n{SLACK_HOOK}")
    assert counts == {"openai_key": 1, "secret": 1, "slack_webhook": 1}
    assert redact_secrets(once) == (once, {})


def test_redactions_in_a_request_are_counted_by_kind_across_texts() -> None:
    with counting_redactions() as tally:
        redact_secrets(f"{OPENAI} and {GITHUB}")
        redact_tree({"prompt": f"key {OPENAI}", "paths": [f"/p/{GITHUB}"]}, skip=frozenset({"paths"}))
    assert dict(tally) == {"openai_key": 2, "github_token": 1}
    redact_secrets(OPENAI)  # outside the block: not counted anywhere
    assert dict(tally) == {"openai_key": 2, "github_token": 1}


SECRET_NAMES = [
    ".env", ".env.local", ".envrc", "prod.env", ".env-prod", ".env_staging", "env.sh", "env.json", "env.yaml",
    "deploy_key", "signing_key", "id_rsa", "id_rsa.bak", "id_ed25519.old", "id_ecdsa~", "id_rsa.txt", "kubeconfig",
    "kubeconfig.yaml", "kubeconfig-prod", "cluster.kubeconfig",
    "credentials", ".aws/credentials", "server.pem", "service-account-prod.json", ".git-credentials",
]
NOT_SECRET_NAMES = [
    "env.py", "env.ts", "environment.yaml", ".env.example", "id_utils.py", "identity.py", "keyboard.py",
    "credentials.py", "monkey_key.py", "README.md", "tokens.rs", "hotkey", "id_rsa.pub", "kubeconfig.go",
    "kubeconfig_test.go", "id_rsa_test.py",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_files_named_like_credential_stores_are_secret(name: str) -> None:
    assert is_secret_path(PurePosixPath("/home/me/project") / name)


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_ordinary_source_files_are_not_secret(name: str) -> None:
    assert not is_secret_path(PurePosixPath("/home/me/project") / name)


def test_directory_expansion_skips_every_secret_bearing_name(tmp_path) -> None:
    from utils.gate.files import expand_paths
    from utils.gate.security import PathPolicy

    project = tmp_path / "project"
    project.mkdir()
    kept = ["app.py", "env.py", "id_utils.py", "README.md"]
    for name in [*kept, ".envrc", "prod.env", ".env-staging", "env.sh", "deploy_key", "id_rsa.bak", "kubeconfig",
                 "credentials"]:
        (project / name).write_text("[default]\naws_access_key_id = x\n" if name == "credentials" else "x = 1\n")
    found = expand_paths([str(project)], PathPolicy(allowed_roots=(project,)))
    assert sorted(p.name for p in found) == sorted(kept)


def test_a_source_package_named_credentials_is_still_read(tmp_path) -> None:
    from utils.gate.files import expand_paths
    from utils.gate.security import PathPolicy

    package = tmp_path / "app" / "credentials"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    found = expand_paths([str(tmp_path / "app")], PathPolicy(allowed_roots=(tmp_path,)))
    assert [p.name for p in found] == ["__init__.py"]


def test_a_file_of_many_secrets_is_redacted_in_linear_time() -> None:
    lines = [f"USER_{n}_PASSWORD=pw{n:06d}secret  # rotated\npassword: v{n:07d}x" for n in range(20_000)]
    redacted, counts = redact_secrets("\n".join(lines))
    assert counts == {"secret": 40_000} and "pw000123secret" not in redacted


FRAGMENTS = st.sampled_from([
    OPENAI, GITHUB, SLACK_HOOK, JWT, "DB_PASSWORD=", "password: ", "://u:", "@h", "'", '"', "+", "x = 1",
    "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", PEM_BODY, "AccountKey=", AZURE_KEY,
    "Authorization: Basic ", BASIC, "sk_", "live_", "[REDACTED:secret]", "hunter2hunter2", "#",
])


# Fragments meet at a space or a line break, as words of real text do (a key glued to the end of another
# word is not recognised as a key in the first place).
@given(st.lists(st.tuples(FRAGMENTS, st.sampled_from([" ", "\n"])), max_size=30).map(
    lambda parts: "".join(f + sep for f, sep in parts)))
def test_redacting_is_idempotent_on_any_mix_of_secret_fragments(text: str) -> None:
    once, _ = redact_secrets(text)
    assert redact_secrets(once) == (once, {})


def test_a_key_that_runs_into_another_secret_is_not_left_in_clear() -> None:
    redacted, counts = redact_secrets(f"{OPENAI}-----BEGIN PRIVATE KEY-----\n{PEM_BODY}")
    assert OPENAI not in redacted and "MIIEow" not in redacted
    assert counts == {"private_key": 1}
