"""``xg.odeint`` with adjoint gradients against ``jax.experimental.ode.odeint`` under
``jax.jit``, float64: a Lotka-Volterra fit's value and gradient (a 2-entry state: the cost per
solver step) and a neural ODE's weight gradient (a batch of states through a tanh MLP)."""
from ._common import LIBS, TIMEOUT, build


class OdeFit:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [50]]
    param_names = ["lib", "points"]

    def setup(self, lib, points):
        self.fn = build("ode_fit", lib, points=points)

    def time_value_and_gradient(self, lib, points):
        self.fn()


class NeuralOde:
    timeout = TIMEOUT
    version = "1"
    params = [LIBS, [64, 512]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("neural_ode", lib, batch=batch)

    def time_gradient(self, lib, batch):
        self.fn()
