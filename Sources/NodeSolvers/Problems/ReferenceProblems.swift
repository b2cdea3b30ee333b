import NodeCore
import RealModule

/// A vector field whose solution is known in closed form, for checking
/// solvers: convergence order, error against tolerance, dense output.
public protocol KnownSolutionField: VectorField {
  /// The exact state of `sample` at `time`, starting from `initial` at `initialTime`.
  func exactState(sample: Int, initial: [Scalar], initialTime: Scalar, time: Scalar) -> [Scalar]
}

/// Exponential decay `y' = −λ_s y`, one rate per sample, any dimension:
/// `y(t) = y(t₀) e^{−λ_s (t − t₀)}`.
public final class ExponentialDecayField<Scalar: TensorScalar>: KnownSolutionField {
  /// The decay rate of each sample.
  public let rates: [Scalar]
  public let dimension: Int

  /// Creates the field for `rates.count` samples of `dimension` elements.
  public init(rates: [Scalar], dimension: Int = 1) {
    self.rates = rates
    self.dimension = dimension
  }

  public func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    for r in 0..<batch.count {
      let rate = rates[batch.sampleIndices[r]]
      let y = batch.states.row(r)
      let f = out.row(r)
      for d in 0..<dimension { f[d] = -rate * y[d] }
    }
  }

  public func exactState(sample: Int, initial: [Scalar], initialTime: Scalar, time: Scalar)
    -> [Scalar]
  {
    let decay = Scalar.exp(-rates[sample] * (time - initialTime))
    return initial.map { $0 * decay }
  }
}

/// A damped rotation in the plane, `y' = [[−δ, −ω], [ω, −δ]] y`, one angular
/// frequency ω and damping δ per sample: `y(t) = e^{−δ τ} R(ω τ) y(t₀)`,
/// `τ = t − t₀`. Large ω makes a sample hard (many steps), small ω easy.
public final class DampedRotationField<Scalar: TensorScalar>: KnownSolutionField {
  /// The angular frequency of each sample.
  public let frequencies: [Scalar]
  /// The damping rate of each sample.
  public let dampings: [Scalar]
  public var dimension: Int { 2 }

  /// Creates the field; `dampings` defaults to no damping.
  public init(frequencies: [Scalar], dampings: [Scalar]? = nil) {
    self.frequencies = frequencies
    self.dampings = dampings ?? [Scalar](repeating: 0, count: frequencies.count)
  }

  public func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    for r in 0..<batch.count {
      let s = batch.sampleIndices[r]
      let omega = frequencies[s]
      let delta = dampings[s]
      let y = batch.states.row(r)
      let f = out.row(r)
      f[0] = -delta * y[0] - omega * y[1]
      f[1] = omega * y[0] - delta * y[1]
    }
  }

  public func exactState(sample: Int, initial: [Scalar], initialTime: Scalar, time: Scalar)
    -> [Scalar]
  {
    let tau = time - initialTime
    let angle = frequencies[sample] * tau
    let decay = Scalar.exp(-dampings[sample] * tau)
    let c = Scalar.cos(angle)
    let s = Scalar.sin(angle)
    return [decay * (c * initial[0] - s * initial[1]), decay * (s * initial[0] + c * initial[1])]
  }
}

/// The logistic equation `y' = r_s y (1 − y)`, nonlinear, one rate per sample:
/// `y(t) = 1 / (1 + (1/y₀ − 1) e^{−r_s (t − t₀)})` (for `y₀ ≠ 0`).
public final class LogisticField<Scalar: TensorScalar>: KnownSolutionField {
  /// The growth rate of each sample.
  public let rates: [Scalar]
  public var dimension: Int { 1 }

  /// Creates the field for `rates.count` samples.
  public init(rates: [Scalar]) { self.rates = rates }

  public func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    for r in 0..<batch.count {
      let y = batch.states.row(r)[0]
      out.row(r)[0] = rates[batch.sampleIndices[r]] * y * (1 - y)
    }
  }

  public func exactState(sample: Int, initial: [Scalar], initialTime: Scalar, time: Scalar)
    -> [Scalar]
  {
    let y0 = initial[0]
    return [1 / (1 + (1 / y0 - 1) * Scalar.exp(-rates[sample] * (time - initialTime)))]
  }
}

/// A nonlinear, time-dependent scalar problem, `y' = −2 t y²`:
/// `y(t) = 1 / (1/y₀ + t² − t₀²)` (for `y₀ > 0`). Exercises per-sample times.
public final class TimeDependentRiccatiField<Scalar: TensorScalar>: KnownSolutionField {
  public var dimension: Int { 1 }

  /// Creates the field.
  public init() {}

  public func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    for r in 0..<batch.count {
      let y = batch.states.row(r)[0]
      out.row(r)[0] = -2 * batch.times[r] * y * y
    }
  }

  public func exactState(sample: Int, initial: [Scalar], initialTime: Scalar, time: Scalar)
    -> [Scalar]
  {
    [1 / (1 / initial[0] + time * time - initialTime * initialTime)]
  }
}
