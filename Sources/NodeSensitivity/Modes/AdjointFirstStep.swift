/// How the backsolve adjoint chooses each sample's first backward step (in a
/// config file, `model.adjoint_first_step: continue|select`).
public enum AdjointFirstStep: String, Sendable, CaseIterable, Codable {
  /// Continue from the forward solve: the backward solve of `[z, a]` starts at
  /// the final time with the step the forward controller proposed there
  /// (``NodeSolvers/SolveStatistics/nextStepSizes``), scaled to the adjoint's
  /// tolerances by `(tol_adjoint / tol_forward)^(1/p)`; each later segment
  /// (after an output time) continues from the previous segment's proposal.
  /// `z` follows the same dynamics backward and `a`'s linearised dynamics
  /// share its Jacobian, so the proposal is a close estimate; the controller
  /// rejects and shrinks it where it is not. Saves the one probe evaluation
  /// per sample of Hairer's selection.
  case continueForward = "continue"
  /// Hairer's initial step selection on `[z, a]` at the final time (one probe
  /// evaluation of the augmented field per sample and segment), as
  /// torchdiffeq's and Diffrax's backsolve adjoints start.
  case select
}
