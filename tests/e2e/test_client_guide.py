"""docs/rest-client-guide.md, run as written: every ```sh block, in the guide's order, against the demo.

The blocks run in ONE bash session (``set -Eeuo pipefail``), so what one example sets (``TOKEN``,
``SESSION``) is there for the next, as for a reader who pastes them one after another. The session
starts with ``API`` pointing at the demo and the banner's two tokens exported, as a reader has them
after ``make demo``. Inside it ``curl`` is a function that adds ``--fail-with-body`` and a time limit:
any answer of 400 or more ends the run, naming the guide's line.

Two markers in the guide steer this, and read as plain comments to a person:

- ``# expect: NNN`` on the line right before a command that starts with ``curl``: that call must answer
  exactly HTTP NNN (the guide's refusals: 401, 403, 400), and is not failed for it.
- ``# guide-test: skip (why)`` as the first line of a block: the block is not run. Keep these few,
  each with its reason (the HTTP/2 trailers example needs a demo started with HTTP/2 on).

Every token the session ends up holding (but the banner's, which the demo prints itself) is added to
the demo's secrets, so the end-of-run redaction check proves the guide's sign-ins, refreshes and
sign-outs never put one in the gateway's log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool
from tests.e2e.conftest import Demo

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "rest-client-guide.md"
EXPECT = re.compile(r"# expect: (\d{3})")
SKIP = re.compile(r"# guide-test: skip \((.+)\)")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# What the session has before the guide's first block: strict bash, and `curl` checking answers.
PRELUDE = r"""
set -Eeuo pipefail
GUIDE_AT=0
trap 'echo "guide-test: the block at line $GUIDE_AT of the guide stopped (exit $?)" >&2' ERR

curl() {
  local want=${GUIDE_EXPECT:-} url="" arg head status="" rc=0
  for arg in "$@"; do
    if [[ $arg == http://* ]]; then url=$arg; fi
  done
  if [[ -z $want ]]; then
    command curl --fail-with-body --max-time 20 "$@" || rc=$?
    if [[ $rc != 0 ]]; then
      echo "guide-test: line $GUIDE_AT: curl $url failed (exit $rc; 22 is an HTTP error status)" >&2
    fi
    return "$rc"
  fi
  head=$(mktemp)
  command curl --max-time 20 --dump-header "$head" "$@" || rc=$?
  status=$(awk '/^HTTP\// { s = $2 } END { print s }' "$head")
  rm -f "$head"
  if [[ $rc != 0 || $status != "$want" ]]; then
    echo "guide-test: line $GUIDE_AT: curl $url answered ${status:-nothing} (exit $rc), the guide expects $want" >&2
    return 1
  fi
}
"""

# After the last block: every variable's value, for the tokens among them.
EPILOGUE = r"""
for name in $(compgen -v); do
  printf '%s\n' "${!name-}"
done > "$GUIDE_VARIABLES"
echo "guide-test: all blocks ran" >&2
"""


@dataclass(frozen=True)
class Block:
    line: int  # the guide's line of the opening fence
    code: list[str]

    @property
    def skip_reason(self) -> str | None:
        first = self.code[0].strip() if self.code else ""
        match = SKIP.fullmatch(first)
        return match.group(1) if match else None


def sh_blocks(text: str) -> list[Block]:
    """The guide's ```sh blocks, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"the sh block at line {i + 1} of the guide never closes"
            blocks.append(Block(i + 1, lines[i + 1 : end]))
            i = end
        i += 1
    return blocks


def to_bash(block: Block) -> str:
    """A block as the session runs it: its line noted, each ``# expect: NNN`` applied to its curl."""
    out = [f"GUIDE_AT={block.line}"]
    expected: str | None = None
    for offset, line in enumerate(block.code, start=1):
        where = f"line {block.line + offset} of the guide"
        stripped = line.strip()
        assert not (stripped.startswith("# guide-test:") and offset > 1), f"{where}: a skip goes first"
        if expected is not None:
            assert stripped.startswith("curl "), f"{where}: `# expect: {expected}` must precede a curl"
            out.append(line.replace("curl ", f"GUIDE_EXPECT={expected} curl ", 1))
            expected = None
            continue
        if match := EXPECT.fullmatch(stripped):
            expected = match.group(1)
        out.append(line)
    assert expected is None, f"the block at line {block.line} ends after `# expect: {expected}`"
    return "\n".join(out)


def redacted(text: str) -> str:
    return JWT.sub("eyJ...(a token)", text)


def test_the_guide_markers_are_well_formed() -> None:
    blocks = sh_blocks(GUIDE.read_text())
    assert len(blocks) >= 20
    for block in blocks:
        to_bash(block)  # asserts each marker is where it belongs
    skipped = [(b.line, b.skip_reason) for b in blocks if b.skip_reason]
    assert len(skipped) <= 2, f"keep skipped examples few, each with its reason: {skipped}"
    expects = [m.group(1) for b in blocks for line in b.code if (m := EXPECT.fullmatch(line.strip()))]
    assert {"401", "403"} <= set(expects), "the guide shows a 401 and a 403 as they happen"


def test_every_example_in_the_client_guide_runs_against_the_demo(demo: Demo, tmp_path: Path) -> None:
    bash = require_tool("bash")
    require_tool("curl")
    require_tool("jq")
    blocks = [b for b in sh_blocks(GUIDE.read_text()) if b.skip_reason is None]
    script = "\n".join([PRELUDE, *(to_bash(b) for b in blocks), EPILOGUE])
    variables = tmp_path / "variables"
    venv_bin = str(Path(sys.executable).parent)  # `tta-gateway`, as a reader's checkout has it
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "API": f"http://127.0.0.1:{demo.http_port}",
        "TTA_PLAYER_TOKEN": demo.banner_token("player"),
        "TTA_THERAPIST_TOKEN": demo.banner_token("therapist"),
        "TTA_GATEWAY_DEMO_KEYS": str(demo.keys),  # `tta-gateway token` signs with this demo's key
        "NO_PROXY": "127.0.0.1,localhost",
        "GUIDE_VARIABLES": str(variables),
    }
    env.pop("GUIDE_EXPECT", None)
    result = subprocess.run(
        [bash, "--noprofile", "--norc", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    code, out, err = result.returncode, result.stdout, result.stderr  # never the result's repr: tokens
    held = variables.read_text() if variables.exists() else ""
    banner = {env["TTA_PLAYER_TOKEN"], env["TTA_THERAPIST_TOKEN"]}  # printed by the demo itself
    demo.secrets.update(set(JWT.findall(held + out)) - banner)
    assert code == 0, (
        f"a guide example failed (bash exit {code})\n"
        f"--- stderr\n{redacted(err)[-3000:]}\n--- stdout (end)\n{redacted(out)[-3000:]}"
    )
    assert "guide-test: all blocks ran" in err
    assert len(JWT.findall(held)) >= 5, "the session signed in, refreshed and minted tokens"
