"""The PoissonVI network (Martens et al., Nature Methods 2023): encoder, decoder and loss.

This module knows nothing of AnnData or files: it maps dense minibatches of fragment counts to the loss.

Generative model for cell n with fragment counts x_n over R regions and library size l_n = sum_r x_nr:

    z_n ~ N(0, I),   rho_n = softmax(f(z_n, s_n) + b),   x_nr ~ Poisson(l_n * rho_nr)

where f is the decoder MLP (batch one-hot s_n injected into every layer) and b the per-region bias
(region factors). Inference: q(z_n | x_n) = N(mu(log1p x_n), diag sigma^2(log1p x_n)).
"""

import torch
from torch import nn
from torch.autograd.function import once_differentiable

VARIANCE_EPS = 1e-4


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


class Encoder(nn.Module):
    """q(z | x) = N(mu, diag sigma^2) from log1p(x); sigma^2 = exp(log_var) + 1e-4."""

    def __init__(self, n_regions, n_hidden, n_latent, n_layers, dropout):
        super().__init__()
        self.n_regions = n_regions
        self.hidden = FullyConnected(n_regions, n_hidden, n_layers, dropout=dropout)
        self.mean = nn.Linear(n_hidden, n_latent)
        self.log_var = nn.Linear(n_hidden, n_latent)

    def forward(self, counts):
        """counts: the dense (cells, regions) fragments of a minibatch."""
        hidden = self.hidden(torch.log1p(counts))
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


class PoissonVAE(nn.Module):
    """Encoder + decoder with the PoissonVI loss."""

    def __init__(self, n_regions, n_hidden, n_latent, n_layers_encoder=2, n_layers_decoder=2, n_batches=0, dropout=0.1):
        super().__init__()
        self.encoder = Encoder(n_regions, n_hidden, n_latent, n_layers_encoder, dropout)
        self.decoder = Decoder(n_latent, n_hidden, n_regions, n_layers_decoder, n_batches)

    def forward(self, counts, batch_onehot=None):
        mean, variance = self.encoder(counts)
        z = mean + variance.sqrt() * torch.randn_like(mean)
        return {"z": z, "mean": mean, "variance": variance, "logits": self.decoder(z, batch_onehot)}

    @staticmethod
    def reconstruction_loss(counts, logits, library_size, library_constant):
        """-log p(x | z) = -sum_r [x_r log(l rho_r) - l rho_r - log x_r!], rho = softmax(logits)
        = l logsumexp(logits) - sum_r x_r logit_r - c(x), with c(x) = l log l - l - sum_r log x_r!
        (since sum_r rho_r = 1). Gradient: d/d logit_r = l rho_r - x_r."""
        return PoissonReconstruction.apply(logits, counts, library_size) - library_constant

    @staticmethod
    def kl_divergence(mean, variance):
        """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2)."""
        return 0.5 * (mean.pow(2) + variance - 1.0 - variance.log()).sum(dim=-1)

    def loss(self, counts, library_size, library_constant, batch_onehot=None):
        """Per-cell reconstruction loss and KL; the training objective is mean(recon + beta * KL)."""
        outputs = self(counts, batch_onehot)
        reconstruction = self.reconstruction_loss(counts, outputs["logits"], library_size, library_constant)
        return reconstruction, self.kl_divergence(outputs["mean"], outputs["variance"])


class PoissonReconstruction(torch.autograd.Function):
    """l logsumexp(logits) - sum_r x_r logit_r per cell. The forward pass keeps softmax(logits) from its single
    exp pass, and the backward pass is l softmax(logits) - x (autograd would exponentiate again and build a
    second (cells, regions) gradient for the x term)."""

    @staticmethod
    def forward(ctx, logits, counts, library_size):
        maximum = logits.amax(dim=-1, keepdim=True)
        probabilities = (logits - maximum).exp_()
        total = probabilities.sum(dim=-1, keepdim=True)
        ctx.save_for_backward(probabilities.div_(total), counts, library_size)
        normalizer = (maximum + total.log()).squeeze(-1)
        return library_size * normalizer - (counts * logits).sum(dim=-1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        probabilities, counts, library_size = ctx.saved_tensors
        grad = probabilities * (grad_output * library_size).unsqueeze(-1)
        return grad.sub_(counts * grad_output.unsqueeze(-1)), None, None


def poisson_rate(logits, library_size):
    """Poisson rate l * softmax(logits): each cell's rates sum to its library size."""
    return library_size.unsqueeze(-1) * torch.softmax(logits, dim=-1)


def library_constant(library_size, log_factorial_sum):
    """c(x) = l log l - l - sum_r log x_r! per cell (0 log 0 = 0)."""
    return torch.xlogy(library_size, library_size) - library_size - log_factorial_sum
