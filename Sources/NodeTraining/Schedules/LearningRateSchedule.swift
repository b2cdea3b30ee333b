import Foundation

/// The learning rate as a function of the optimizer step: an optional linear
/// warm-up followed by one of the usual decay shapes.
///
/// With `s` the step (from 0) and `W` the warm-up steps, the rate is
/// `base · min(1, (s + 1)/W) · shape(s)` — PyTorch's `LinearLR` warm-up
/// times `StepLR`, `MultiStepLR` or `CosineAnnealingLR`.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
  /// The decay after (and during) warm-up.
  public enum Shape: Sendable, Equatable, Codable {
    /// The base rate throughout.
    case constant
    /// Multiplied by `factor` every `every` steps: `factor^⌊s/every⌋`.
    case step(every: Int, factor: Double)
    /// Multiplied by `factor` at each milestone step passed.
    case milestones([Int], factor: Double)
    /// Half a cosine from the base rate at step 0 to `minimum` at `totalSteps`
    /// (and `minimum` after): `min + (base − min)(1 + cos(π s/T))/2`.
    case cosine(totalSteps: Int, minimum: Double)
  }

  /// The rate at step 0 after warm-up.
  public var base: Double
  /// The decay shape.
  public var shape: Shape
  /// Steps of linear warm-up (0: none).
  public var warmupSteps: Int

  /// A schedule; `base > 0`, `warmupSteps ≥ 0` (callers validate config values).
  public init(base: Double, shape: Shape = .constant, warmupSteps: Int = 0) {
    self.base = base
    self.shape = shape
    self.warmupSteps = warmupSteps
  }

  /// The learning rate of optimizer step `step` (from 0).
  public func rate(atStep step: Int) -> Double {
    let warmup = warmupSteps > 0 ? Swift.min(1, Double(step + 1) / Double(warmupSteps)) : 1
    let decayed: Double
    switch shape {
    case .constant:
      decayed = base
    case .step(let every, let factor):
      decayed = base * pow(factor, Double(step / Swift.max(every, 1)))
    case .milestones(let steps, let factor):
      decayed = base * pow(factor, Double(steps.filter { step >= $0 }.count))
    case .cosine(let total, let minimum):
      let progress = Swift.min(1, Double(step) / Double(Swift.max(total, 1)))
      decayed = minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
    }
    return decayed * warmup
  }
}
