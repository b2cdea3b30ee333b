/// How the backsolve adjoint chooses each sample's first backward step (in a
/// config file, `model.adjoint_first_step: select|continue`).
///
/// Hairer's selection starts small and spends a probe evaluation; continuing
/// from the forward solve often lets the first backward step span the whole
/// interval. Both steps pass the same error control, but that control sees
/// `z` and `a` only, against an absolute tolerance far above an adjoint of a
/// mean loss's size, so a larger step can cost gradient accuracy. Measured
/// against exact gradients (BENCHMARKS.md, "The adjoint continued from the
/// forward solve"): on the W1 CNF at rtol = atol = 1e-5 continuing is as
/// accurate (same held-out NLL after training, fewer backward evaluations:
/// 8.8 against 14.1 per sample); on the W2 ODE-Net at 1e-3 its single
/// backward step left a 13 % gradient error against the probe's 3.9 %, and
/// one-epoch training runs lost accuracy on average. Hence the probe is the
/// default.
public enum AdjointFirstStep: String, Sendable, CaseIterable, Codable {
  /// Hairer's initial step selection on `[z, a]` at the final time (one probe
  /// evaluation of the augmented field per sample and segment), as
  /// torchdiffeq's and Diffrax's backsolve adjoints start. The default.
  case select
  /// Continue from the forward solve: the backward solve of `[z, a]` starts at
  /// the final time with the step the forward controller proposed there
  /// (``NodeSolvers/SolveStatistics/nextStepSizes``), scaled to the adjoint's
  /// tolerances by `(tol_adjoint / tol_forward)^(1/p)`; each later segment
  /// (after an output time) continues from the previous segment's proposal.
  /// `z` follows the same dynamics backward and `a`'s linearised dynamics
  /// share its Jacobian, so the proposal is a close estimate; the controller
  /// rejects and shrinks it where it is not.
  case continueForward = "continue"
}
