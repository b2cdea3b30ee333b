/// Which components of the backward solve's state the adjoint's error control sees.
public enum AdjointNorm: String, Sendable, CaseIterable, Codable {
  /// The state `z` and the adjoint `a` only: the parameter integral is left
  /// out of error control (Kidger, Chen, Lyons, "'Hey, that's not an ODE'",
  /// 2021), which takes fewer backward steps at no loss of accuracy in `z`
  /// and `a`.
  case seminorm
  /// Every component, including each sample's own parameter integral, as a
  /// plain adjoint does: for comparison. Costs a per-sample parameter
  /// gradient at every stage.
  case full
}
