"""Devices and precision: what 'auto' means on each kind of hardware (faked descriptions, no GPU needed)."""

from __future__ import annotations

import pytest

from core.cli import run_cli
from core.devices import GPU, Devices, choose_gpus, cpu_info, describe, resolve_precision
from core.errors import WorkbenchError

AMX_CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""
AVX2_CPUINFO = "model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"

BF16_CPU = cpu_info(AMX_CPUINFO)
PLAIN_CPU = cpu_info(AVX2_CPUINFO)
A100 = GPU(0, "NVIDIA A100", 40 * 2**30, (8, 0))
P100 = GPU(1, "Tesla P100", 16 * 2**30, (6, 0))


def test_cpu_flags_give_bf16_units():
    assert BF16_CPU.model.startswith("Intel") and BF16_CPU.bf16 and BF16_CPU.bf16_units == ("amx_bf16", "avx512_bf16")
    assert PLAIN_CPU.model == "AMD EPYC" and not PLAIN_CPU.bf16


@pytest.mark.parametrize(
    ("cpu", "gpus", "requested", "policy", "noted"),
    [
        (BF16_CPU, (), "auto", "mixed_bfloat16", False),
        (BF16_CPU, (), "mixed", "mixed_bfloat16", False),
        (PLAIN_CPU, (), "auto", "float32", False),
        (PLAIN_CPU, (), "mixed", "float32", True),  # float16 on a CPU: say so, use float32
        (PLAIN_CPU, (A100,), "auto", "mixed_float16", False),
        (BF16_CPU, (A100,), "auto", "mixed_float16", False),  # the GPU trains, not the CPU
        (PLAIN_CPU, (P100,), "auto", "float32", False),
        (PLAIN_CPU, (A100, P100), "mixed", "float32", True),  # one old GPU among the chosen
        (BF16_CPU, (A100,), "float32", "float32", False),
    ],
)
def test_precision_resolves_from_the_hardware(cpu, gpus, requested, policy, noted):
    got = resolve_precision(requested, Devices(cpu=cpu, gpus=gpus))
    assert got.policy == policy
    assert bool(got.note) == noted
    assert got.reason


def test_chosen_gpus_decide_and_bad_indices_are_refused():
    devices = Devices(cpu=PLAIN_CPU, gpus=(A100, P100))
    assert resolve_precision("auto", devices, gpus=[0]).policy == "mixed_float16"
    assert choose_gpus(devices, [1, 1]) == (P100,)
    with pytest.raises(WorkbenchError, match="There is no GPU 3 on this machine"):
        choose_gpus(devices, [3])
    with pytest.raises(WorkbenchError, match="Unknown precision 'half'"):
        resolve_precision("half", devices)


def test_describe_lists_cpu_gpus_build_and_auto():
    lines = describe(Devices(cpu=BF16_CPU, gpus=(A100,), tensorflow="2.21.0", keras="3.15.1", cuda_version="12.5"))
    text = "\n".join(lines)
    assert "AMX-BF16" in text and "NVIDIA A100, 40 GiB, compute capability 8.0" in text
    assert "CUDA 12.5 build" in text and lines[-1].startswith("Precision   auto uses mixed float16")


def test_devices_command_describes_this_machine(capsys):
    assert run_cli(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU ") and "TensorFlow " in out and "Precision   auto uses" in out


def test_train_flags_reach_the_config(monkeypatch):
    seen = {}

    def fake_train(config, reporter=None, cancel=None, **kw):
        seen["config"] = config
        raise WorkbenchError("stop here")

    monkeypatch.setattr("core.training.train", fake_train)
    assert run_cli(["train", "--precision", "mixed", "--devices", "gpu:0,gpu:1", "--epochs", "1"]) == 2
    assert seen["config"].precision == "mixed" and seen["config"].devices == "gpu:0,gpu:1"
    assert run_cli(["train", "--epochs", "1"]) == 2
    assert seen["config"].precision == "auto" and seen["config"].devices == "auto"
