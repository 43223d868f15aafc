"""The PoissonVI network (Martens et al., Nature Methods 2023): encoder, decoder and loss.

This module knows nothing of AnnData or files: it maps sparse minibatches of fragment counts (sparse_batches.SparseRows)
to the loss, touching the counts only at their nonzero entries.

Generative model for cell n with fragment counts x_n over R regions and library size l_n = sum_r x_nr:

    z_n ~ N(0, I),   rho_n = softmax(f(z_n, s_n) + b),   x_nr ~ Poisson(l_n * rho_nr)

where f is the decoder MLP (batch one-hot s_n injected into every layer) and b the per-region bias
(region factors). Inference: q(z_n | x_n) = N(mu(u_n), diag sigma^2(u_n)) with u_n = log1p(x_n), or the
depth-normalized log1p(s x_n / l_n) (sparse_batches.DeviceCSR).
"""

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional

VARIANCE_EPS = 1e-4
DENSE_GRADIENT_DENSITY = 0.035


class FullyConnected(nn.Module):
    """Layers of Linear -> LayerNorm -> LeakyReLU -> Dropout; a covariate one-hot joins every layer's input."""

    def __init__(self, n_in, n_hidden, n_layers, n_covariates=0, dropout=0.0):
        super().__init__()
        self.n_covariates = n_covariates
        sizes = [n_in] + [n_hidden] * n_layers
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Linear(n_from + n_covariates, n_to),
                nn.LayerNorm(n_to, elementwise_affine=False),
                nn.LeakyReLU(),
                nn.Dropout(dropout),
            )
            for n_from, n_to in zip(sizes[:-1], sizes[1:])
        )

    def forward(self, x, covariates=None):
        for layer in self.layers:
            x = layer(torch.cat([x, covariates], dim=-1) if self.n_covariates else x)
        return x


class SparseInputLinear(nn.Module):
    """y = u W + b for the encoder input u of a sparse minibatch, from its nonzero entries only: the weight is stored
    one row per region, (regions, n_out), so that y_b = sum_{e in cell b} u_e W[region_e] is an embedding-bag sum.
    Initialized as nn.Linear: W, b ~ U(-1/sqrt(regions), 1/sqrt(regions))."""

    def __init__(self, n_in, n_out):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, batch):
        return SparseProduct.apply(self.weight, batch) + self.bias


class SparseProduct(torch.autograd.Function):
    """Y = X W for X the encoder inputs of a sparse minibatch (sparse_batches.SparseRows), W dense (regions, n_out);
    X itself (the data) gets no gradient. Forward: one embedding-bag sum per cell, from the entries alone.
    Backward: dW = X^T dY, from the entries grouped by region (X^T in CSR order, one embedding-bag sum per region)
    when X is sparser than DENSE_GRADIENT_DENSITY; above it, X densified and one dense product cost less on a CPU:
    the sort that groups the entries grows with the nonzeros, the product does not (benchmarks/bench_weight_gradient.py
    times both by density: the sparse path is the faster below about 0.035 at training's shapes on the Intel VM)."""

    @staticmethod
    def forward(ctx, weight, batch):
        ctx.batch = batch
        return functional.embedding_bag(batch.regions, weight, batch.offsets, mode="sum",
                                        per_sample_weights=batch.inputs)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        batch = ctx.batch
        values = batch.inputs
        if len(values) > DENSE_GRADIENT_DENSITY * batch.n_cells * batch.n_regions:
            return batch.to_dense(values).T @ grad_output, None
        order = torch.argsort(batch.regions, stable=True)
        per_region = torch.bincount(batch.regions, minlength=batch.n_regions)
        grad_weight = functional.embedding_bag(batch.cells[order], grad_output, torch.cumsum(per_region, 0) - per_region,
                                               mode="sum", per_sample_weights=values[order])
        return grad_weight, None


class Encoder(nn.Module):
    """q(z | x) = N(mu, diag sigma^2) from the encoder input u (log1p(x), or depth-normalized);
    sigma^2 = exp(log_var) + 1e-4. The first layer reads the
    sparse minibatch (SparseInputLinear), the others are FullyConnected."""

    def __init__(self, n_regions, n_hidden, n_latent, n_layers, dropout):
        super().__init__()
        self.n_regions = n_regions
        self.input = SparseInputLinear(n_regions, n_hidden)
        self.input_activation = nn.Sequential(
            nn.LayerNorm(n_hidden, elementwise_affine=False), nn.LeakyReLU(), nn.Dropout(dropout)
        )
        self.hidden = FullyConnected(n_hidden, n_hidden, n_layers - 1, dropout=dropout)
        self.mean = nn.Linear(n_hidden, n_latent)
        self.log_var = nn.Linear(n_hidden, n_latent)

    def forward(self, batch):
        """batch: the SparseRows of a minibatch."""
        hidden = self.hidden(self.input_activation(self.input(batch)))
        return self.mean(hidden), torch.exp(self.log_var(hidden)) + VARIANCE_EPS


class Decoder(nn.Module):
    """Logits over regions: f(z, s) + b, with b the learned per-region bias (region factors)."""

    def __init__(self, n_latent, n_hidden, n_regions, n_layers, n_batches):
        super().__init__()
        self.hidden = FullyConnected(n_latent, n_hidden, n_layers, n_covariates=n_batches)
        self.to_logits = nn.Linear(n_hidden, n_regions, bias=False)
        self.region_factors = nn.Parameter(torch.zeros(n_regions))

    def hidden_state(self, z, batch_onehot=None):
        return self.hidden(z, batch_onehot)

    def logits_from_hidden(self, hidden, regions=slice(None)):
        """Logits of a subset of regions: h W[regions]^T + b[regions]."""
        return torch.addmm(self.region_factors[regions], hidden.flatten(0, -2), self.to_logits.weight[regions].T).view(
            *hidden.shape[:-1], -1
        )

    def forward(self, z, batch_onehot=None):
        return self.logits_from_hidden(self.hidden_state(z, batch_onehot))

    def logits_by_region(self, z, batch_onehot=None):
        """The logits transposed, (regions, B) = W h^T + b: the layout training's loss reads. At training's shapes
        (B 128, 128 hidden units, thousands of regions) MKL makes this product in about a quarter less time than
        h W^T (B, regions) on a CPU; its two gradients cost about the same in either layout
        (benchmarks/bench_training_step.py)."""
        return torch.addmm(self.region_factors.unsqueeze(-1), self.to_logits.weight, self.hidden_state(z, batch_onehot).T)


class PoissonVAE(nn.Module):
    """Encoder + decoder with the PoissonVI loss."""

    def __init__(self, n_regions, n_hidden, n_latent, n_layers_encoder=2, n_layers_decoder=2, n_batches=0, dropout=0.1):
        super().__init__()
        self.encoder = Encoder(n_regions, n_hidden, n_latent, n_layers_encoder, dropout)
        self.decoder = Decoder(n_latent, n_hidden, n_regions, n_layers_decoder, n_batches)

    def forward(self, batch, batch_onehot=None):
        mean, variance, z = self.latent_sample(batch)
        return {"z": z, "mean": mean, "variance": variance, "logits": self.decoder(z, batch_onehot)}

    def latent_sample(self, batch):
        """q(z | x)'s mean and variance, and z = mu + sigma eps, eps ~ N(0, I)."""
        mean, variance = self.encoder(batch)
        return mean, variance, mean + variance.sqrt() * torch.randn_like(mean)

    @staticmethod
    def reconstruction_loss(batch, logits_by_region, library_size, library_constant):
        """-log p(x | z) = -sum_r [x_r log(l rho_r) - l rho_r - log x_r!], rho = softmax(logits)
        = l logsumexp(logits) - sum_r x_r logit_r - c(x), with c(x) = l log l - l - sum_r log x_r!
        (since sum_r rho_r = 1). Gradient: d/d logit_r = l rho_r - x_r. The logits come (regions, B)."""
        return PoissonReconstruction.apply(logits_by_region, batch.cells, batch.entries, batch.counts,
                                           library_size) - library_constant

    @staticmethod
    def kl_divergence(mean, variance):
        """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2)."""
        return 0.5 * (mean.pow(2) + variance - 1.0 - variance.log()).sum(dim=-1)

    def loss(self, batch, library_size, library_constant, batch_onehot=None):
        """Per-cell reconstruction loss and KL of a sparse minibatch; the training objective is
        mean(recon + beta * KL)."""
        mean, variance, z = self.latent_sample(batch)
        logits = self.decoder.logits_by_region(z, batch_onehot)
        return self.reconstruction_loss(batch, logits, library_size, library_constant), self.kl_divergence(mean, variance)


class PoissonReconstruction(torch.autograd.Function):
    """l logsumexp(logits) - sum_r x_r logit_r per cell, for logits given (regions, B) and x by its nonzero entries:
    `entries` index the flattened (regions, B) logits, `cells` name each entry's cell. When a gradient is needed the
    forward pass keeps softmax(logits) from its single exp pass, and the backward pass is l softmax(logits) - x, the
    counts subtracted at their entries only (autograd would exponentiate again)."""

    @staticmethod
    def forward(ctx, logits, cells, entries, counts, library_size):
        maximum = logits.amax(dim=0, keepdim=True)
        probabilities = (logits - maximum).exp_()
        total = probabilities.sum(dim=0, keepdim=True)
        if any(ctx.needs_input_grad):  # none under no_grad (evaluation): the loss alone is needed
            ctx.save_for_backward(probabilities.div_(total), cells, entries, counts, library_size)
        normalizer = (maximum + total.log()).squeeze(0)
        observed = torch.zeros_like(library_size).index_add_(0, cells, counts * logits.view(-1).index_select(0, entries))
        return library_size * normalizer - observed

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        probabilities, cells, entries, counts, library_size = ctx.saved_tensors
        grad = probabilities * (grad_output * library_size)
        grad.view(-1).index_add_(0, entries, counts * grad_output.index_select(0, cells), alpha=-1)
        return grad, None, None, None, None


def poisson_rate(logits, library_size):
    """Poisson rate l * softmax(logits): each cell's rates sum to its library size."""
    return library_size.unsqueeze(-1) * torch.softmax(logits, dim=-1)


def library_constant(library_size, log_factorial_sum):
    """c(x) = l log l - l - sum_r log x_r! per cell (0 log 0 = 0)."""
    return torch.xlogy(library_size, library_size) - library_size - log_factorial_sum
