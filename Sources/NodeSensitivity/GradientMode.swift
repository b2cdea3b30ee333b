/// How gradients flow through an ODE solve.
public enum GradientMode: String, Sendable, CaseIterable, Codable {
  /// The backsolve adjoint (the paper's Algorithm 1): each sample integrates
  /// `[z, a]` backward with its own adaptive steps, and the parameter integral
  /// is accumulated from accepted steps. Memory does not grow with the number
  /// of steps; `z` is reconstructed backward and may drift from the forward
  /// trajectory on dynamics that are unstable backward.
  case adjoint
  /// Backprop through the solver's operations ("RK-Net"): the exact gradient
  /// of the discrete forward computation, through every accepted stage and
  /// the dense output, with step sizes treated as constants. Memory grows
  /// with the number of steps; the reference the others are measured against.
  case backprop
  /// The checkpointed adjoint: the forward state at each accepted step is
  /// kept, and the backward solve restarts `z` from it at every step
  /// boundary, so reconstruction never drifts further than one forward step.
  case checkpointed
}
