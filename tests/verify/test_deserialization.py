from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate

NAME = "unsafe-deserialization"


def found(layout, code: str) -> list[str]:
    return [f.message for f in gate(layout({"app/load.py": code}), NAME).findings]


def test_flags_pickle_loads(layout):
    assert found(layout, "import pickle\nobj = pickle.loads(blob)\n") == [
        "pickle.loads() can execute code embedded in its input"
    ]


def test_flags_marshal_and_shelve(layout):
    code = "import marshal, shelve\nmarshal.loads(b)\nshelve.open(p)\n"
    assert len(found(layout, code)) == 2


def test_flags_yaml_load_without_safe_loader(layout):
    code = (
        "import yaml\nyaml.load(text)\nyaml.load(text, Loader=yaml.Loader)\nyaml.unsafe_load(t)\n"
    )
    assert len(found(layout, code)) == 3


def test_flags_eval_and_exec_on_data(layout):
    code = "def f(expr):\n    eval(expr)\n    exec(compile(expr, 'x', 'exec'))\n"
    assert found(layout, code) == [
        "eval() on a non-literal runs whatever it is given",
        "exec() on a non-literal runs whatever it is given",
    ]


def test_flags_shell_true_with_built_command(layout):
    code = """
    import os, subprocess
    def run(name):
        subprocess.run(f"convert {name}", shell=True)
        os.system("rm " + name)
    """
    assert len(found(layout, code)) == 2


def test_passes_safe_loaders_literals_and_argument_lists(layout):
    code = """
    import ast, json, subprocess, yaml
    def f(text, name):
        yaml.safe_load(text)
        yaml.load(text, Loader=yaml.SafeLoader)
        json.loads(text)
        ast.literal_eval(text)
        eval("1 + 1")
        subprocess.run(["convert", name], check=True)
        subprocess.run("make", shell=True)
    """
    assert gate(layout({"app/ok.py": code}), NAME).status is Status.PASS


def test_flags_a_shell_started_by_name_with_a_built_script(layout):
    code = """
    import asyncio, subprocess
    async def run(name):
        subprocess.run(["sh", "-c", f"convert {name} out.png"], check=True)
        subprocess.Popen(("/bin/bash", "-lc", "ls " + name))
        await asyncio.create_subprocess_exec("sh", "-c", "ls " + name)
        subprocess.run(["sh", "-c", "ls -l | wc -l"], check=True)
        subprocess.run(["bash", "--norc", name], check=True)
    """
    assert found(layout, code) == [
        "subprocess.run() runs a built script through a shell",
        "subprocess.Popen() runs a built script through a shell",
        "asyncio.create_subprocess_exec() runs a built script through a shell",
    ]
