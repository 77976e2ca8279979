"""PyTorch's ``device='cuda'`` given to a function of a host backend: the error names the
function, says that 'cuda' is the cupy backend here, and whether that backend runs on this
machine; generators, which take no device, say to make them on the cupy backend."""
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")

CREATORS = {
    "zeros": lambda device: xg.zeros(3, device=device),
    "empty": lambda device: xg.empty(3, device=device),
    "full": lambda device: xg.full(3, 1.0, device=device),
    "eye": lambda device: xg.eye(3, device=device),
    "arange": lambda device: xg.arange(3, device=device),
    "linspace": lambda device: xg.linspace(0.0, 1.0, 3, device=device),
    "asarray": lambda device: xg.asarray([1.0, 2.0], device=device),
    "ones_like": lambda device: xg.ones_like(xg.ones(2), device=device),
    "to_device": lambda device: xg.to_device(xg.ones(2), device),
    "fftfreq": lambda device: xg.fft.fftfreq(4, device=device),
}


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
@pytest.mark.parametrize("who", sorted(CREATORS))
def test_cuda_on_a_host_backend_names_the_function_and_the_cupy_backend(who, device):
    with pytest.raises(ValueError) as err:
        CREATORS[who](device)
    message = str(err.value)
    assert message.startswith(f"{who}: backend 'numpy' has no device '{device}'; its devices "
                              "are ['cpu']; PyTorch's 'cuda' is the cupy backend here: "
                              "backend='cupy', or device=xg.Device('cupy', <CUDA device>)")
    cupy_runs = xg.available_backends()["cupy"]["available"]
    assert ("(not on this machine: backend 'cupy' " in message) is not cupy_runs


def test_an_asarray_of_a_tensor_names_asarray_too():
    with pytest.raises(ValueError, match="^asarray: backend 'numpy' has no device 'cuda'"):
        xg.asarray(xg.ones(2), device="cuda")


@pytest.mark.parametrize("who, call", [
    ("default_rng", lambda: xg.random.default_rng(0, device="cuda")),
    ("Generator", lambda: xg.random.Generator(0, device="cuda")),
    ("Generator.normal", lambda: xg.random.default_rng(0).normal(size=3, device="cuda")),
    ("Generator.uniform", lambda: xg.random.default_rng(0).uniform(size=3, device="cuda")),
    ("Generator.standard_normal",
     lambda: xg.random.default_rng(0).standard_normal(3, device="cuda")),
])
def test_a_generator_given_a_device_says_to_make_it_on_the_cupy_backend(who, call):
    with pytest.raises(TypeError) as err:
        call()
    assert str(err.value) == (f"{who}() got an unexpected keyword argument 'device'; a "
                              "generator draws on the backend it was made on: "
                              "xg.random.default_rng(seed, backend='cupy') for CUDA (PyTorch's "
                              "'cuda'), backend=t.device.backend for where a tensor t lives")


def test_a_generator_keeps_the_other_unknown_keywords_plain():
    with pytest.raises(TypeError, match=r"^default_rng\(\) got an unexpected keyword "
                                        r"argument 'dtype'$"):
        xg.random.default_rng(0, dtype=xg.float64)
