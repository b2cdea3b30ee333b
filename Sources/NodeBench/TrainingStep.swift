import NodeCore
import NodeSolvers

/// What one training iteration of a workload measured.
public struct TrainingStep: Sendable {
  /// The batch's mean loss before the update.
  public let loss: Double
  /// The ODE solves' forward and backward statistics per sample.
  public let forward: SolveStatistics<Float>
  public let backward: SolveStatistics<Float>

  /// A measurement.
  public init(loss: Double, forward: SolveStatistics<Float>, backward: SolveStatistics<Float>) {
    self.loss = loss
    self.forward = forward
    self.backward = backward
  }
}

/// Means of the loss and of the per-sample forward and backward NFE over the
/// iterations since the last report (a learning curve's points).
public struct StepWindow: Sendable {
  private var loss = 0.0
  private var forward = 0.0
  private var backward = 0.0
  /// The iterations added since the last ``take()``.
  public private(set) var count = 0

  /// An empty window.
  public init() {}

  /// Adds one iteration's loss and solve statistics.
  public mutating func add<Scalar>(
    loss: Double, forward: SolveStatistics<Scalar>, backward: SolveStatistics<Scalar>
  ) {
    self.loss += loss
    self.forward += forward.meanFunctionEvaluations
    self.backward += backward.meanFunctionEvaluations
    count += 1
  }

  /// The window's means (nil if it is empty), and a fresh window.
  public mutating func take() -> (loss: Double, forward: Double, backward: Double)? {
    defer { self = StepWindow() }
    guard count > 0 else { return nil }
    let n = Double(count)
    return (loss / n, forward / n, backward / n)
  }
}
