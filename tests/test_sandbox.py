"""The sandbox's contract: how a program ends (status and one-line reason), its limits, its output,
its environment, parallel use, and how it behaves when no sandbox can run. The hostile programs
are in test_sandbox_hostile.py; HumanEval's solutions in test_sandbox_humaneval.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_llmeval.sandbox import SANDBOX_UID, Execution, Limits, run_python, sandbox_status
from tests._sandbox import in_parallel, processes_named, requires_sandbox

pytestmark = requires_sandbox

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENT = ["HOME=/tmp", "LANG=C.UTF-8", "PATH=/usr/bin:/bin", "PWD=/tmp", "PYTHONHASHSEED=0", "TMPDIR=/tmp"]
SHOW_ENVIRONMENT = "import os\nprint(sorted(f'{k}={v}' for k, v in os.environ.items()))\n"


def test_a_program_that_runs_to_its_end_passes() -> None:
    execution = run_python("import os, sys\nprint('hello', os.getuid(), os.getcwd())\nprint('to stderr', file=sys.stderr)\n")
    assert execution == Execution(status="passed", reason="", duration_s=execution.duration_s,
                                  stdout=f"hello {SANDBOX_UID} /tmp\n", stderr="to stderr\n")
    assert execution.passed and execution.sandboxed and not execution.truncated
    assert 0 < execution.duration_s < 10


FAST = Limits(wall_s=30)  # a loaded CI machine may take seconds to start Python; none of these wait for it


@pytest.mark.parametrize(("program", "limits", "status", "reason"), [
    ("x = 1\nassert x == 2, 'x is not 2'\n", FAST, "failed", "AssertionError: x is not 2 (line 2)"),
    ("def f(:\n    pass\n", FAST, "failed", "SyntaxError: invalid syntax (line 1)"),
    ("def f(x):\n    return 1 / x\n\nf(0)\n", FAST, "failed", "ZeroDivisionError: division by zero (line 2)"),
    ("import sys\nsys.exit(0)\nassert False\n", FAST, "failed",
     "the program called exit(0) before its end, so its tests did not all run"),
    ("raise SystemExit('bye')\n", FAST, "failed",
     "the program called exit('bye') before its end, so its tests did not all run"),
    ("import os\nos._exit(0)\n", FAST, "failed",
     "the program left with status 0 before its end, so its tests did not all run"),
    ("print(input())\n", FAST, "failed", "EOFError: EOF when reading a line (line 1)"),
    ("x = bytearray(10 * 1024 ** 3)\n", FAST, "oom", "MemoryError: over the memory limit (512 MiB per process)"),
    ("x = [bytearray(2 ** 20) for _ in range(200)]\n", Limits(wall_s=30, memory_mb=128), "oom",
     "MemoryError: over the memory limit (128 MiB per process)"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", FAST, "killed", "killed by SIGSEGV"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", FAST, "killed", "killed by SIGKILL"),
    ("while True:\n    pass\n", Limits(wall_s=60, cpu_s=1), "timeout", "ran past the CPU-time limit (1 s)"),
    ("import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n",
     Limits(wall_s=60, cpu_s=1), "killed", "killed by SIGKILL"),  # the hard CPU limit, a second later
    ("import time\ntime.sleep(600)\n", Limits(wall_s=1), "timeout", "no result within the wall-time limit (1 s)"),
    ("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(600)\n", Limits(wall_s=1), "timeout",
     "no result within the wall-time limit (1 s)"),
])
def test_each_way_to_end_has_its_status_and_reason(program: str, limits: Limits, status: str, reason: str) -> None:
    execution = run_python(program, limits=limits)
    assert (execution.status, execution.reason) == (status, reason), execution.stderr
    assert not execution.passed


@pytest.mark.parametrize(("program", "reason"), [
    ("x = '\ud800'\n", "SyntaxError: (unicode error) 'utf-8' codec can't decode byte 0xed"),
    ("x = 1\0\n", "Error: source code "),  # ValueError in Python 3.11, SyntaxError from 3.12
])
def test_text_that_is_no_program_fails_in_the_sandbox(program: str, reason: str) -> None:
    execution = run_python(program, limits=FAST)
    assert execution.status == "failed"
    assert reason in execution.reason


def test_a_program_larger_than_a_pipe_is_fed_whole() -> None:
    program = "# " + "x" * 2_000_000 + "\nprint('end')\n"
    assert run_python(program, limits=FAST).stdout == "end\n"


def test_the_wall_limit_is_kept() -> None:
    started = time.monotonic()
    execution = run_python("import time\nprint('up', flush=True)\ntime.sleep(600)\n", limits=Limits(wall_s=2))
    assert execution.status == "timeout"
    assert execution.stdout == "up\n"  # what it printed before the limit is kept
    assert 2 <= execution.duration_s < 4
    assert time.monotonic() - started < 5


def test_the_traceback_names_the_programs_lines() -> None:
    execution = run_python("def check(candidate):\n    assert candidate(2) == 5\n\ncheck(lambda x: x * 2)\n")
    assert execution.reason == "AssertionError (line 2)"
    assert "assert candidate(2) == 5" in execution.stderr
    assert "sandbox_launcher" not in execution.stderr and "_run" not in execution.stderr


def test_output_past_the_cap_is_read_and_dropped_without_changing_the_verdict() -> None:
    program = "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 1_000_000)\nprint('done', file=sys.stderr)\n"
    execution = run_python(program, limits=Limits(output_bytes=1000))
    assert execution.passed
    assert execution.stdout == "x" * 1000
    assert execution.stderr == "done\n"
    assert execution.truncated


def test_endless_output_ends_at_the_wall_limit_with_the_cap() -> None:
    execution = run_python("while True:\n    print('y' * 10000)\n", limits=Limits(wall_s=2, output_bytes=5000))
    assert execution.status == "timeout"
    assert len(execution.stdout) == 5000 and execution.truncated


def test_the_environment_is_only_the_documented_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMEVAL_TEST_KEY", "sk-canary-7f3a")
    execution = run_python(SHOW_ENVIRONMENT)
    assert execution.stdout == f"{ENVIRONMENT}\n"


def test_hashes_set_order_and_random_are_the_same_on_every_run() -> None:
    """PYTHONHASHSEED=0 and random seeded with 0: a program whose output follows set order or
    draws unseeded random numbers (three HumanEval tests do) gives the same result each run."""
    program = "import random\nprint(hash('abc'), list({'pear', 'apple', 'fig', 'kiwi', 'plum'}), random.random())\n"
    first, second = run_python(program), run_python(program)
    assert first.stdout == second.stdout
    reference = program.replace("import random\n", "import random\nrandom.seed(0)\n")
    fixed = subprocess.run([sys.executable, "-c", reference], env={"PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    assert first.stdout == fixed.stdout


def test_no_file_descriptor_is_left_open() -> None:
    """Pipes, pidfds and the status pipe are closed after every ending, the timeout included: a run
    of thousands of executions must not run out of descriptors."""
    before = sorted(os.listdir("/proc/self/fd"))
    programs = ["pass\n", "assert False\n", "import time\ntime.sleep(60)\n", "print('x' * 10 ** 6)\n"]
    in_parallel(lambda p: run_python(p, limits=Limits(wall_s=1.5)), programs * 2)
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_a_file_past_the_size_limit_fails_the_program() -> None:
    execution = run_python("open('/tmp/big', 'wb').write(b'x' * (3 * 2 ** 20))\n", limits=Limits(file_mb=2))
    assert execution.status == "failed"
    assert execution.reason.startswith("OSError: [Errno 27] File too large")


def test_executions_in_parallel_keep_their_own_results() -> None:
    programs = [f"import time\ntime.sleep(0.{i % 3})\nprint({i})\nassert {i} % 5 != 4\n" for i in range(16)]
    executions = in_parallel(run_python, programs)
    assert [e.stdout for e in executions] == [f"{i}\n" for i in range(16)]
    assert [e.status for e in executions] == ["failed" if i % 5 == 4 else "passed" for i in range(16)]


def test_executions_run_at_the_same_time() -> None:
    """Seen from outside: four executions on four threads are all alive at once (each holds a
    process named with a marker until the test has seen all four), so waiting on one sandbox
    never blocks the others, or the threads that send requests."""
    marker = f"llmeval-together-{os.getpid()}-{time.monotonic_ns()}"
    program = (f"import os, time\npid = os.fork()\nif pid == 0:\n    os.execv('/bin/sleep', ['{marker}', '{{}}'])\n"
               "os.waitpid(pid, 0)\n")
    seen = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(run_python, program.replace("{}", "600"), limits=Limits(wall_s=60)) for _ in range(4)]
        deadline = time.monotonic() + 50
        while seen < 4 and time.monotonic() < deadline:
            seen = max(seen, len(processes_named(marker)))
            time.sleep(0.02)
        for pid in processes_named(marker):  # let them finish: each program then passes
            os.kill(pid, signal.SIGTERM)
        executions = [f.result() for f in futures]
    assert seen == 4
    assert [e.status for e in executions] == ["passed"] * 4


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("wall_s", 0, "wall_s must be positive"),
    ("cpu_s", -1, "cpu_s must be positive"),
    ("memory_mb", 0, "memory_mb must be positive"),
    ("processes", 2, "processes must be at least 3"),
    ("open_files", 4, "open_files must be at least 16"),
])
def test_impossible_limits_are_refused(field: str, value: float, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_status_says_the_sandbox_runs() -> None:
    assert sandbox_status() is None


def _python_without_bwrap(tmp_path: Path, code: str) -> str:
    """Runs ``code`` in a new interpreter whose PATH has no bwrap, as on a machine without it."""
    result = subprocess.run([sys.executable, "-c", code], env={"PATH": str(tmp_path)}, cwd=REPO,
                            capture_output=True, text=True, check=True)
    return result.stdout


def test_without_bubblewrap_the_status_is_one_line_and_no_program_fails(tmp_path: Path) -> None:
    out = _python_without_bwrap(tmp_path, textwrap.dedent("""
        from pytest_llmeval.sandbox import run_python, sandbox_status
        from pytest_llmeval.errors import SandboxError
        print(sandbox_status())
        try:
            run_python("pass")
        except SandboxError as exc:
            print("raised", exc)
        print(run_python("import os\\nprint(os.getcwd().startswith('/tmp/llmeval-unsafe-'))", unsafe=True).stdout, end="")
    """))
    line = "bubblewrap is not installed (no bwrap on PATH): apt-get install bubblewrap, or dnf install bubblewrap"
    assert out == f"{line}\nraised {line}\nTrue\n"


def test_a_sandbox_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    """Inside a bwrap with user namespaces disabled, as on a kernel or container that forbids
    them, bwrap cannot create the sandbox: the status says so in one line, from bwrap itself."""
    code = "from pytest_llmeval.sandbox import sandbox_status\nprint(sandbox_status())\n"
    outer = ["bwrap", "--unshare-user", "--disable-userns", "--uid", "1000", "--die-with-parent", "--ro-bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", str(REPO), sys.executable, "-c", code]
    result = subprocess.run(outer, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=True)
    assert result.stdout.startswith("the sandbox did not start: bwrap: ")
    assert "namespace" in result.stdout and result.stdout.count("\n") == 1


def test_unsafe_runs_a_plain_subprocess_with_the_same_contract(tmp_path: Path) -> None:
    program = SHOW_ENVIRONMENT + "print(os.getcwd())\nassert 1 + 1 == 2\n"
    execution = run_python(program, unsafe=True)
    environment, folder = execution.stdout.splitlines()
    assert execution.passed and not execution.sandboxed
    assert environment == str([e for e in ENVIRONMENT if not e.startswith("PWD=")])
    assert Path(folder).name.startswith("llmeval-unsafe-") and not Path(folder).exists()
    assert run_python("assert False\n", unsafe=True).reason == "AssertionError (line 1)"
    assert run_python("x = bytearray(10 * 1024 ** 3)\n", unsafe=True).status == "oom"


def test_unsafe_kills_what_the_program_left_behind() -> None:
    marker = f"llmeval-unsafe-{os.getpid()}-{time.monotonic_ns()}"
    daemon = f"import os\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['{marker}', '600'])\n"
    execution = run_python(daemon, unsafe=True)
    assert execution.passed
    assert _gone(marker)
    execution = run_python(daemon + "import time\ntime.sleep(600)\n", unsafe=True, limits=Limits(wall_s=1))
    assert execution.status == "timeout"
    assert _gone(marker)


def _gone(marker: str, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while processes_named(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_sandbox_dies_with_its_caller() -> None:
    """The process that called run_python is SIGKILLed mid-execution: nothing it started in the
    sandbox survives it (bwrap's --die-with-parent, then the PID namespace)."""
    marker = f"llmeval-orphan-{os.getpid()}-{time.monotonic_ns()}"
    program = (f"import os\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
               f"        os.execv('/bin/sleep', ['{marker}', '600'])\nimport time\ntime.sleep(600)\n")
    caller = subprocess.Popen([sys.executable, "-c", "import sys\nfrom pytest_llmeval.sandbox import run_python\n"
                               f"run_python(sys.stdin.read())\n"], stdin=subprocess.PIPE, cwd=REPO, text=True)
    assert caller.stdin is not None
    caller.stdin.write(program)
    caller.stdin.close()
    deadline = time.monotonic() + 60
    while len(processes_named(marker)) < 3:
        assert time.monotonic() < deadline and caller.poll() is None, "the sandboxed program never started"
        time.sleep(0.05)
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    assert _gone(marker), processes_named(marker)


ORDINARY_USER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[1])
    from pytest_llmeval.sandbox import Limits, run_python, sandbox_status
    print(os.geteuid(), sandbox_status())
    bomb = "import os\\nwhile True:\\n    os.fork()\\n"
    print(run_python(bomb, limits=Limits(processes=6)).reason)
    print(run_python("import os\\nprint(os.getuid())\\n").stdout, end="")
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="run as an ordinary user, every other test here covers this path")
def test_an_ordinary_user_gets_the_same_sandbox() -> None:
    """As root, the tests run bwrap as uid 65534; this runs the caller itself as an ordinary user
    (uid 65534, the system Python), the path every non-root user takes: bwrap starts unprivileged
    and a fork bomb still stops at its process limit."""
    python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not python.is_file():
        pytest.skip(f"no {python} to run as an ordinary user")
    result = subprocess.run([str(python), "-c", ORDINARY_USER, str(REPO)], env={"PATH": "/usr/bin:/bin"}, cwd="/",
                            user=SANDBOX_UID, group=SANDBOX_UID, extra_groups=[], capture_output=True, text=True)
    assert result.stdout.splitlines() == [f"{SANDBOX_UID} None", "BlockingIOError: [Errno 11] Resource temporarily "
                                          "unavailable (line 3)", str(SANDBOX_UID)], result.stderr


PREFIX_BOUND = textwrap.dedent("""
    import os, sys
    from pytest_llmeval.sandbox import _interpreter, run_python, sandbox_status
    print(sandbox_status(), _interpreter() == (os.path.realpath(sys._base_executable), sys.base_prefix))
    program = "import sys\\nprint(sys.executable)\\nopen(sys.prefix + '/owned', 'w')\\n"
    print(run_python(program).stdout.strip(), run_python(program).reason)
""")


@pytest.mark.skipif(Path(sys.base_prefix).resolve().is_relative_to("/usr"), reason="this Python is under /usr")
def test_an_interpreter_outside_usr_is_bound_read_only() -> None:
    """A caller whose Python lives outside /usr (pyenv, conda) gets that Python in the sandbox, its
    prefix bound read-only. Run as uid 1000 in a user namespace of our own, as an ordinary user
    would; the host's /proc is bound there because bwrap inside needs a procfs it may mount over."""
    outer = ["bwrap", "--unshare-user", "--uid", "1000", "--gid", "1000", "--die-with-parent", "--ro-bind", "/", "/",
             "--bind", "/proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", str(REPO),
             sys.executable, "-c", PREFIX_BOUND]
    result = subprocess.run(outer, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    python = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    assert result.stdout.splitlines() == [
        "None True", f"{python} OSError: [Errno 30] Read-only file system: '{sys.base_prefix}/owned' (line 3)",
    ], result.stderr

