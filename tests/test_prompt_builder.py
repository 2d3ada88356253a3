"""Prompt assembly: newest-first selection under budget, oldest-first presentation, files once."""

from __future__ import annotations

import hashlib

import pytest

from utils.conversations.turns import FileRef, Turn
from utils.gate.files import FileContent
from utils.prompting.budget import Allocation
from utils.prompting.builder import FilesDoNotFitError, PromptTooLargeError, build_prompt, file_references


def fc(path: str, text: str) -> FileContent:
    return FileContent(path=path, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), size=len(text))


def words(text: str) -> int:
    return len(text.split())


def alloc(files: int = 10_000, history: int = 10_000, reserve: int = 1_000) -> Allocation:
    return Allocation(
        context_window=files + history + reserve + 1_000,
        response_tokens=1_000,
        input_tokens=files + history + reserve,
        files_tokens=files,
        history_tokens=history,
        reserve_tokens=reserve,
    )


def turn(role: str, content: str, *files: FileContent) -> Turn:
    refs = tuple(FileRef(path=f.path, sha256=f.sha256, size=f.size) for f in files)
    return Turn(role=role, content=content, files=refs)  # type: ignore[arg-type]


def build(turns=(), new_files=(), history_files=None, allocation=None, new_input="now?", optional_files=()):
    return build_prompt(
        system_prompt="sys",
        turns=list(turns),
        new_input=new_input,
        new_files=list(new_files),
        history_files=history_files or {},
        allocation=allocation or alloc(),
        count=words,
        optional_files=list(optional_files),
    )


def test_history_is_presented_oldest_first_and_new_input_last():
    plan = build([turn("user", "first question"), turn("assistant", "first answer")])
    text = plan.text
    assert text.index("first question") < text.index("first answer") < text.index("now?")
    assert plan.turns_included == 2


def test_when_history_does_not_fit_the_oldest_turns_are_dropped_and_reported():
    turns = [turn("user", f"message number {i} " + "pad " * 50) for i in range(10)]
    plan = build(turns, allocation=alloc(files=0, history=200))
    assert "message number 9" in plan.text and "message number 0" not in plan.text
    assert plan.turns_included < 10
    assert any("oldest turn" in d.what for d in plan.dropped)
    assert "earlier turn(s) omitted" in plan.text


def test_a_file_in_history_and_in_the_new_call_is_embedded_once():
    f = fc("/p/a.py", "print('a')")
    plan = build([turn("user", "look", f)], new_files=[f], history_files={})
    assert plan.text.count("print('a')") == 1
    assert [e.path for e in plan.files] == ["/p/a.py"]


def test_history_files_are_embedded_from_their_current_content():
    old = fc("/p/a.py", "v = 1")
    new = fc("/p/a.py", "v = 2")
    plan = build([turn("user", "look", old)], history_files={"/p/a.py": new})
    assert "v = 2" in plan.text and "v = 1" not in plan.text
    assert plan.files[0].changed is True
    assert plan.report()["files_changed"] == ["/p/a.py"]


def test_unchanged_history_file_is_not_marked_changed():
    f = fc("/p/a.py", "same")
    plan = build([turn("user", "look", f)], history_files={"/p/a.py": f})
    assert plan.files[0].changed is False


def test_files_are_presented_in_order_of_first_appearance_for_a_stable_prefix():
    a, b, c = fc("/p/a.py", "AAA"), fc("/p/b.py", "BBB"), fc("/p/c.py", "CCC")
    turns = [turn("user", "1", a), turn("assistant", "x"), turn("user", "2", b)]
    plan = build(turns, new_files=[c, a], history_files={"/p/a.py": a, "/p/b.py": b})
    assert plan.text.index("AAA") < plan.text.index("BBB") < plan.text.index("CCC")


def test_files_first_mentioned_together_keep_their_order_when_some_are_passed_again():
    a, b, c, d = (fc(f"/p/{n}.py", n.upper() * 3) for n in "abcd")
    turns = [turn("user", "1", a, b, c), turn("assistant", "x")]
    plan = build(turns, new_files=[a, b, d], history_files={"/p/a.py": a, "/p/b.py": b, "/p/c.py": c})
    assert [e.path for e in plan.files] == ["/p/a.py", "/p/b.py", "/p/c.py", "/p/d.py"]


def test_newest_files_win_the_budget_and_dropped_files_are_reported():
    old = fc("/p/old.py", "old " * 300)
    new = fc("/p/new.py", "new " * 300)
    plan = build([turn("user", "1", old)], new_files=[new], history_files={"/p/old.py": old},
                 allocation=alloc(files=400, history=1000))
    assert [e.path for e in plan.files] == ["/p/new.py"]
    assert [d.what for d in plan.dropped] == ["/p/old.py"]


def test_a_history_file_that_can_no_longer_be_read_is_reported_not_fatal():
    gone = fc("/p/gone.py", "x")
    plan = build([turn("user", "1", gone)], history_files={"/p/gone.py": None})
    assert plan.files == ()
    assert plan.dropped[0].reason == "no longer readable"


def test_identical_inputs_give_byte_identical_prompts():
    f = fc("/p/a.py", "def f():\n    return 1\n")
    turns = [turn("user", "q", f), turn("assistant", "a")]
    first = build(turns, history_files={"/p/a.py": f})
    second = build(turns, history_files={"/p/a.py": f})
    assert first.text == second.text


def test_a_new_input_larger_than_the_window_is_refused():
    with pytest.raises(PromptTooLargeError, match="Shorten the prompt"):
        build(new_input="word " * 5_000, allocation=alloc(files=100, history=100, reserve=100))


@pytest.mark.parametrize(
    "refs, expected_first, expected_last",
    [
        ([["/a"], ["/b"], ["/a"]], {"/a": 0, "/b": 1}, {"/a": 2, "/b": 1}),
        ([[], ["/a", "/b"]], {"/a": 1, "/b": 1}, {"/a": 1, "/b": 1}),
        ([], {}, {}),
    ],
)
def test_file_references_track_first_and_newest_mention(refs, expected_first, expected_last):
    turns = [Turn(role="user", content="x", files=tuple(FileRef(path=p, sha256=p) for p in paths)) for paths in refs]
    first, last, last_sha = file_references(turns)
    assert first == expected_first and last == expected_last
    assert set(last_sha) == set(expected_last)


def test_files_of_the_call_that_cannot_fit_are_refused_with_each_file_and_the_room():
    big, small = fc("/p/big.py", "big " * 2_000), fc("/p/small.py", "small")
    with pytest.raises(FilesDoNotFitError) as raised:
        build(new_files=[small, big], allocation=alloc(files=400, history=600, reserve=100))
    sizes = dict(raised.value.files)
    assert set(sizes) == {"/p/big.py", "/p/small.py"} and sizes["/p/big.py"] > raised.value.room > sizes["/p/small.py"]


def test_files_of_the_call_may_take_the_history_share_and_history_yields():
    f = fc("/p/f.py", "word " * 600)
    turns = [turn("user", "old question " + "pad " * 300), turn("assistant", "old answer")]
    plan = build(turns, new_files=[f], allocation=alloc(files=400, history=400, reserve=100))
    assert [e.path for e in plan.files] == ["/p/f.py"]
    assert plan.turns_included < 2


def test_files_a_tool_adds_are_left_out_when_they_do_not_fit_not_refused():
    extra = fc("/p/extra.py", "x " * 2_000)
    plan = build(optional_files=[extra], allocation=alloc(files=400, history=600, reserve=100))
    assert plan.files == () and [d.what for d in plan.dropped] == ["/p/extra.py"]


def test_the_text_is_cut_after_the_files_and_after_the_history_and_joins_back_whole():
    f = fc("/p/a.py", "print('a')")
    plan = build([turn("user", "look", f), turn("assistant", "seen")], history_files={"/p/a.py": f})
    files, history, request = plan.sections
    assert "".join(plan.sections) == plan.text
    assert files.rstrip().endswith("=== END FILES ===") and history.rstrip().endswith("=== END CONVERSATION ===")
    assert request.startswith("=== NEW REQUEST ===")
