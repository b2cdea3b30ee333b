/// Which components of the backward solve's state the adjoint's error control sees.
public enum AdjointNorm: String, Sendable, CaseIterable, Codable {
  /// The state `z` and the adjoint `a` only: the parameter integral is left
  /// out of error control (Kidger, Chen, Lyons, "'Hey, that's not an ODE'",
  /// 2021), which takes fewer backward steps at no loss of accuracy in `z`
  /// and `a`.
  case seminorm
  /// Every component, including each sample's own parameter integral, as a
  /// plain adjoint does: the error ratio is the larger of the RMS over
  /// `[z, a]` and the RMS over the parameter integral (torchdiffeq's mixed
  /// norm). For comparison: costs a per-sample parameter gradient at every stage.
  case full
}
