"""The singular value decomposition of ΔW = s·B·A from its factors, never forming ΔW.

Write X = B (out × r) and Y = Aᵀ (in × r). Each factor is split as X = U_X·R_X with
orthonormal U_X (a thin QR, up to a rotation of the r columns); then
ΔW = U_X·(s·R_X·R_Yᵀ)·U_Yᵀ, and the SVD of the small core C = s·R_X·R_Yᵀ = U_c·Σ·V_cᵀ
gives ΔW's singular values Σ and its singular directions U_X·U_c and U_Y·V_c.

R_X comes from the r × r Gram matrix XᵀX, accumulated in float64 over blocks of rows
(CholeskyQR, via a symmetric eigendecomposition so that rank-deficient factors work too):
one streaming pass over the factor, a few MB of memory whatever its size. When a factor
is so ill-conditioned that the Gram matrix would lose digits (σ_min/σ_max < 1e-5), its
R is recomputed by Householder QR of the whole factor instead.

Directions are kept as coefficients P (r × q) with U = X·P, so comparing two adapters
needs only the cross products X₁ᵀX₂ and A₁A₂ᵀ (r₁ × r₂), also streamed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tensor_file import col_blocks, row_blocks, to_float64

GRAM_RELIABLE = 1e-10  # λ_min/λ_max of XᵀX below this: Householder QR instead
NEGLIGIBLE = 1e-13  # singular values below this × σ_max × size are numerical zeros


class NonFinite(ValueError):
    """A factor holds NaN or infinite values: its update has no spectrum."""


@dataclass(frozen=True, slots=True)
class FactorBasis:
    """X = U·R with U = X·M orthonormal (n × q, q ≤ r the numerical rank of X)."""

    m: np.ndarray  # r × q
    r: np.ndarray  # q × r
    method: str  # "gram" or "qr"


def gram_rows(raw: np.ndarray) -> np.ndarray:
    """XᵀX (float64) of a stored n × r factor, one block of rows at a time."""
    gram = np.zeros((raw.shape[1], raw.shape[1]))
    for _, block in row_blocks(raw):
        gram += block.T @ block
    return gram


def gram_cols(raw: np.ndarray) -> np.ndarray:
    """A·Aᵀ (float64) of a stored r × n factor A, one block of columns at a time."""
    gram = np.zeros((raw.shape[0], raw.shape[0]))
    for _, block in col_blocks(raw):
        gram += block @ block.T
    return gram


def cross_rows(raw1: np.ndarray, raw2: np.ndarray) -> np.ndarray:
    """X₁ᵀX₂ for two stored n × r₁ and n × r₂ factors (the same n)."""
    rows = max(1, (1 << 17) // max(raw1.shape[1], raw2.shape[1], 1))
    cross = np.zeros((raw1.shape[1], raw2.shape[1]))
    for start in range(0, raw1.shape[0], rows):
        cross += to_float64(raw1[start : start + rows]).T @ to_float64(raw2[start : start + rows])
    return cross


def cross_cols(raw1: np.ndarray, raw2: np.ndarray) -> np.ndarray:
    """A₁A₂ᵀ for two stored r₁ × n and r₂ × n factors (the same n)."""
    cols = max(1, (1 << 17) // max(raw1.shape[0], raw2.shape[0], 1))
    cross = np.zeros((raw1.shape[0], raw2.shape[0]))
    for start in range(0, raw1.shape[1], cols):
        end = start + cols
        cross += to_float64(raw1[:, start:end]) @ to_float64(raw2[:, start:end]).T
    return cross


def _basis(values: np.ndarray, vectors: np.ndarray, method: str, size: int) -> FactorBasis:
    """From X's singular values (any order) and right singular vectors (columns)."""
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    top = values[0] if values.size else 0.0
    keep = values > max(top * NEGLIGIBLE * size, np.finfo(float).tiny)
    values, vectors = values[keep], vectors[:, keep]
    return FactorBasis(m=vectors / values, r=values[:, None] * vectors.T, method=method)


def factor_basis(raw: np.ndarray, rows_are_rank: bool) -> FactorBasis:
    """The basis of a stored factor: B (out × r, `rows_are_rank=False`) or A (r × in)."""
    gram = gram_cols(raw) if rows_are_rank else gram_rows(raw)
    size = raw.shape[1] if rows_are_rank else raw.shape[0]
    if not np.all(np.isfinite(gram)):
        raise NonFinite("NaN or infinite values in the factors")
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    top = float(eigenvalues[-1]) if eigenvalues.size else 0.0
    if top <= 0.0:
        return FactorBasis(np.zeros((gram.shape[0], 0)), np.zeros((0, gram.shape[0])), "gram")
    if float(eigenvalues[0]) >= top * GRAM_RELIABLE:
        return _basis(np.sqrt(eigenvalues), eigenvectors, "gram", size)
    full = to_float64(raw)
    factor = full.T if rows_are_rank else full
    r_factor = np.linalg.qr(factor, mode="r")
    _, values, vt = np.linalg.svd(r_factor)
    return _basis(values, vt.T, "qr", size)


@dataclass(frozen=True, slots=True)
class LowRankSVD:
    """ΔW = U·diag(σ)·Vᵀ with U = B·p_out and V = Aᵀ·p_in (out × in orientation)."""

    singular_values: np.ndarray  # descending
    p_out: np.ndarray  # r × q: output directions as combinations of B's columns
    p_in: np.ndarray  # r × q: input directions as combinations of A's rows
    method: str


def low_rank_svd(a_raw: np.ndarray, b_raw: np.ndarray, scale: float) -> LowRankSVD:
    """The SVD of s·B·A from the stored factors A (r × in) and B (out × r)."""
    bx = factor_basis(b_raw, rows_are_rank=False)
    ay = factor_basis(a_raw, rows_are_rank=True)
    core = scale * (bx.r @ ay.r.T)
    if core.size == 0:
        empty = np.zeros((a_raw.shape[0], 0))
        return LowRankSVD(np.zeros(0), empty, empty, bx.method)
    u_core, values, vt_core = np.linalg.svd(core, full_matrices=False)
    method = "qr" if "qr" in (bx.method, ay.method) else "gram"
    return LowRankSVD(values, bx.m @ u_core, ay.m @ vt_core.T, method)


def low_rank_inner(
    a1: np.ndarray, b1: np.ndarray, s1: float, a2: np.ndarray, b2: np.ndarray, s2: float
) -> float:
    """⟨s₁B₁A₁, s₂B₂A₂⟩_F = s₁s₂·Σ (B₁ᵀB₂ ∘ A₁A₂ᵀ), from r₁ × r₂ products."""
    return float(s1 * s2 * np.sum(cross_rows(b1, b2) * cross_cols(a1, a2)))
