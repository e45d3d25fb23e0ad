"""The package face: lazy names, and a command line that starts without torch."""

import subprocess
import sys

import pytest

import wordgen


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--help"], ["corpora"], ["train", "--help"], ["lab", "--help"],
                                  ["compare", "--help"], ["generate", "--help"], ["serve", "--help"]])
def test_the_command_line_answers_without_importing_torch(argv):
    code = f"import wordgen.cli\ntry:\n    wordgen.cli.main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert "wordgen.cli" in loaded
    assert not {"torch", "fastapi", "uvicorn"} & loaded  # the serve extra loads only for `wordgen serve`


def test_import_wordgen_is_cheap():
    assert "torch" not in _modules_after("import wordgen")


def test_every_public_name_resolves():
    for name in wordgen.__all__:
        assert getattr(wordgen, name) is not None, name
    with pytest.raises(AttributeError):
        wordgen.no_such_name


def test_no_module_is_named_after_a_public_name():
    # A submodule named like a function it exports (wordgen/train.py with train()) would be
    # set as a package attribute on import and hide the function.
    import pkgutil

    modules = {info.name.rsplit(".", 1)[-1] for info in pkgutil.walk_packages(wordgen.__path__, "wordgen.")}
    assert not modules & set(wordgen.__all__)
    from wordgen import generate, train

    assert callable(generate) and callable(train)
