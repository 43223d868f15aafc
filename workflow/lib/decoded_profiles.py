"""Coordinates of the cells' decoded accessibility profiles in which the Euclidean distance is the Aitchison distance.

The decoder gives cell n a composition over the R regions, rho_n = softmax(W h_n + b), with h_n its last hidden
state (model.PoissonVI.decoded_profiles: at the posterior mean, averaged over batches). Compositions are compared by
the Aitchison distance, the Euclidean distance between centred log-ratios clr(rho)_r = log rho_r - mean_r' log rho_r'.
The softmax's normalizer cancels in the clr, so

    clr(rho_n) = W_c h_n + b_c,   W_c = W - 1 w^T   (w = each column's mean over the regions),

and with the thin QR decomposition W_c = Q R (Q's columns orthonormal),

    |clr(rho_n) - clr(rho_m)| = |R (h_n - h_m)|:

exact in n_hidden dimensions, without a cells x regions matrix. The latent means are coordinates that the decoder
warps; these distances are between what the model says of each cell's accessibility. The profiles lie on the
decoder's image of the n_latent-dimensional latent, a curved surface; its first n_latent principal components are
kept (the fraction of the variance they hold is returned and logged), so that a kNN search runs in as many
dimensions as on the latent.
"""

import numpy as np

CHUNK = 1 << 16


def aitchison_coordinates(hidden, weight, n_components):
    """Principal components of the coordinates R (h_n - mean h), for decoder hidden states `hidden` (cells, n_hidden)
    and the decoder's last weight `weight` (regions, n_hidden). Returns the first `n_components` of them, (cells,
    n_components) float32, each sign fixed (its largest weight on the hidden units positive), and the fraction of
    the variance they hold. The covariance is summed a chunk of cells at a time in float64."""
    centred_weight = np.asarray(weight, dtype=np.float64)
    centred_weight = centred_weight - centred_weight.mean(axis=0)
    r = np.linalg.qr(centred_weight, mode="r")
    mean = hidden.mean(axis=0, dtype=np.float64)
    gram = np.zeros((hidden.shape[1], hidden.shape[1]))
    for start in range(0, hidden.shape[0], CHUNK):
        block = hidden[start:start + CHUNK].astype(np.float64) - mean
        gram += block.T @ block
    eigenvalues, eigenvectors = np.linalg.eigh(r @ gram @ r.T)
    order = np.argsort(eigenvalues)[::-1][:n_components]
    projection = r.T @ eigenvectors[:, order]
    projection *= np.sign(projection[np.abs(projection).argmax(axis=0), np.arange(projection.shape[1])])
    coordinates = np.vstack([(hidden[start:start + CHUNK].astype(np.float64) - mean) @ projection
                             for start in range(0, hidden.shape[0], CHUNK)]).astype(np.float32)
    return coordinates, float(eigenvalues[order].sum() / max(eigenvalues.sum(), np.finfo(float).tiny))
