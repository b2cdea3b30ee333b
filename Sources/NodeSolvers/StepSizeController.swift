import NodeCore

/// How step sizes are chosen.
public enum StepSizeController<Scalar: TensorScalar>: Sendable, Equatable {
  /// Every step has the given size; the last step of each sample is shortened
  /// to land on its final time. Works with every method.
  case constant(stepSize: Scalar)
  /// Error-controlled steps; needs a method with an error estimate.
  case adaptive(PIController<Scalar>)

  /// Error-controlled steps at `tolerance` (`rtol`, `atol`), the PI
  /// controller's other settings at their defaults, error measured over the
  /// first `controlledDimensions` components of each state (nil: all).
  public static func adaptive(
    _ tolerance: (relative: Scalar, absolute: Scalar), controlledDimensions: Int? = nil
  ) -> StepSizeController {
    var pi = PIController(
      relativeTolerance: tolerance.relative, absoluteTolerance: tolerance.absolute)
    pi.controlledDimensions = controlledDimensions
    return .adaptive(pi)
  }
}

/// Which samples share an error estimate and a step size.
public enum ErrorControlScope: Sendable, Equatable {
  /// Every sample has its own error norm, accept/reject decision, step size
  /// and controller state: its solution does not depend on its batch-mates.
  case perSample
  /// One error norm over the whole batch (RMS over all elements) and one step
  /// size for all samples, as torchdiffeq and Diffrax's batched solves do.
  /// Kept for comparison.
  case sharedAcrossBatch
}

/// A proportional–integral step-size controller (Gustafsson; Söderlind), with
/// an error ratio per sample.
///
/// The error ratio of a step is the RMS over the sample's own components of
/// `err / (atol + rtol · max(|y₀|, |y₁|))`; the step is accepted when it is at
/// most 1. The next step size is `h · clamp(safety · r⁻ᵝ¹ · r_prev^β₂, minFactor, maxFactor)`
/// with `β₁ = (kI + kP) / k`, `β₂ = kP / k` and `k` the order of the error
/// estimate plus one (Diffrax's convention: `kI = 1, kP = 0` is the classical
/// integral controller of torchdiffeq and Hairer). After a rejection the next
/// accepted step does not grow (Hairer, Nørsett, Wanner I, II.4).
public struct PIController<Scalar: TensorScalar>: Sendable, Equatable {
  /// Relative tolerance `rtol` (≥ 0).
  public var relativeTolerance: Scalar
  /// Absolute tolerance `atol` (≥ 0; `atol + rtol > 0`).
  public var absoluteTolerance: Scalar
  /// Safety factor on the optimal step, in (0, 1].
  public var safety: Scalar = 0.9
  /// The smallest factor a step can shrink by, in (0, 1].
  public var minFactor: Scalar = 0.2
  /// The largest factor a step can grow by, ≥ 1.
  public var maxFactor: Scalar = 10
  /// Integral gain `kI`.
  public var integralGain: Scalar = 1
  /// Proportional gain `kP` (0: a pure integral controller).
  public var proportionalGain: Scalar = 0
  /// The first step size; nil selects it per sample by Hairer's algorithm
  /// (two evaluations per sample, the first reused as the first stage).
  public var initialStepSize: Scalar? = nil
  /// Steps smaller than this end the sample with ``SolveStatus/stepSizeTooSmall``.
  /// Steps the time's precision cannot resolve end it in any case.
  public var minStepSize: Scalar = 0
  /// The largest step size.
  public var maxStepSize: Scalar = .infinity
  /// Consecutive rejected steps with a non-finite state or error that end the
  /// sample with ``SolveStatus/nonFiniteState`` (each one shrinks the step by `minFactor`).
  public var maxNonFiniteRetries: Int = 10
  /// Per-sample or batch-wide error control.
  public var scope: ErrorControlScope = .perSample
  /// The number of leading state components the error norm (and the initial
  /// step heuristic) measures; nil measures all of them. Components after the
  /// prefix are integrated with the same steps but never reject one or shrink
  /// it — e.g. a CNF's RNODE regulariser integrals `[z, Δ | E, F]`, which the
  /// loss reads but the dynamics do not (Finlay et al. 2020, section 4). Must
  /// lie in `1 ... dimension` of the field being solved (checked per solve).
  public var controlledDimensions: Int? = nil

  /// A controller with the given tolerances and default gains.
  public init(relativeTolerance: Scalar, absoluteTolerance: Scalar) {
    self.relativeTolerance = relativeTolerance
    self.absoluteTolerance = absoluteTolerance
  }

  /// Checks every setting; the error names the setting and its allowed range.
  func validate() throws {
    func check(_ ok: Bool, _ name: String, _ value: Scalar, _ allowed: String) throws {
      if !ok { throw SolverError.invalidOption(name: name, value: "\(value)", allowed: allowed) }
    }
    let rtol = relativeTolerance
    let atol = absoluteTolerance
    try check(rtol.isFinite && rtol >= 0, "relative tolerance", rtol, "a finite value ≥ 0")
    try check(atol.isFinite && atol >= 0, "absolute tolerance", atol, "a finite value ≥ 0")
    try check(rtol + atol > 0, "tolerances", rtol + atol, "rtol + atol > 0")
    try check(safety > 0 && safety <= 1, "safety", safety, "0 < safety ≤ 1")
    try check(minFactor > 0 && minFactor <= 1, "min factor", minFactor, "0 < factor ≤ 1")
    try check(maxFactor >= 1 && maxFactor.isFinite, "max factor", maxFactor, "a finite value ≥ 1")
    try check(integralGain.isFinite, "integral gain", integralGain, "a finite value")
    try check(proportionalGain.isFinite, "proportional gain", proportionalGain, "a finite value")
    try check(
      minStepSize >= 0 && minStepSize.isFinite, "min step size", minStepSize, "a finite value ≥ 0")
    try check(maxStepSize > minStepSize, "max step size", maxStepSize, "a value > min step size")
    if let h = initialStepSize {
      try check(h.isFinite && h > 0, "initial step size", h, "a finite value > 0")
    }
    if let p = controlledDimensions, p < 1 {
      throw SolverError.invalidOption(
        name: "controlled dimensions", value: "\(p)", allowed: "nil (every component) or ≥ 1")
    }
    if maxNonFiniteRetries < 1 {
      throw SolverError.invalidOption(
        name: "max non-finite retries", value: "\(maxNonFiniteRetries)", allowed: "≥ 1")
    }
  }

  /// The number of components the error norm measures in a state of
  /// `dimension` components.
  ///
  /// - Throws: ``SolverError/invalidOption(name:value:allowed:)`` when
  ///   ``controlledDimensions`` exceeds `dimension`.
  func errorDimension(of dimension: Int) throws -> Int {
    guard let p = controlledDimensions else { return dimension }
    guard p >= 1 && p <= dimension else {
      throw SolverError.invalidOption(
        name: "controlled dimensions", value: "\(p)",
        allowed: "nil (every component) or 1 ... \(dimension), the field's dimension")
    }
    return p
  }
}
