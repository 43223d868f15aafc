"""AdamW on a fixed list of parameters, and the learning-rate cut on plateaus.

torch.optim.AdamW(fused=True) makes the very same update, but its first use in a process imports torch._dynamo
(torch.optim.Optimizer wraps its methods in torch._disable_dynamo): 1.8-3.4 s of every training job on this
machine, for a compiler the workflow never runs. Here the update is torch's own functional AdamW with the fused
kernel (torch.optim.adamw.adamw), called on state kept in lists, so the weights are the same bit for bit
(tests/test_optimizer.py) and nothing of the compiler is imported.
"""

import torch
from torch.optim.adamw import adamw

BETAS = (0.9, 0.999)
MIN_LR_CHANGE = 1e-8  # ReduceLROnPlateau's eps: smaller cuts are skipped


class AdamW:
    """AdamW (Loshchilov & Hutter 2019) with torch's defaults: for each parameter p with gradient g at step t,
    p <- p (1 - lr wd); m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
    p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with (b1, b2) = (0.9, 0.999)."""

    def __init__(self, parameters, lr, weight_decay, eps):
        self.parameters = list(parameters)
        self.lr, self.weight_decay, self.eps = lr, weight_decay, eps
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.parameters]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.parameters]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.parameters]

    def zero_grad(self):
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient."""
        have = [i for i, p in enumerate(self.parameters) if p.grad is not None]
        adamw([self.parameters[i] for i in have], [self.parameters[i].grad for i in have],
              [self.exp_avgs[i] for i in have], [self.exp_avg_sqs[i] for i in have], [],
              [self.steps[i] for i in have], fused=True, amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=self.lr,
              weight_decay=self.weight_decay, eps=self.eps, maximize=False)

    def state_dict(self):
        return {"lr": self.lr, "exp_avgs": self.exp_avgs, "exp_avg_sqs": self.exp_avg_sqs, "steps": self.steps}

    def load_state_dict(self, state):
        self.lr = state["lr"]
        for name in ("exp_avgs", "exp_avg_sqs", "steps"):
            for mine, saved in zip(getattr(self, name), state[name], strict=True):
                mine.copy_(saved)


class PlateauCut:
    """lr *= factor once more than `patience` epochs in a row brought no loss below the best minus `threshold`
    (torch's ReduceLROnPlateau, mode 'min', absolute threshold, no cooldown, cuts under 1e-8 skipped)."""

    def __init__(self, optimizer, factor, patience, threshold):
        self.optimizer, self.factor, self.patience, self.threshold = optimizer, factor, patience, threshold
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, loss):
        if loss < self.best - self.threshold:
            self.best, self.bad_epochs = loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            lower = self.optimizer.lr * self.factor
            if self.optimizer.lr - lower > MIN_LR_CHANGE:
                self.optimizer.lr = lower
            self.bad_epochs = 0

    def state_dict(self):
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state):
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
