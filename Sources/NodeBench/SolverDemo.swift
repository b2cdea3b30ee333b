import Foundation
import NodeCore
import NodeSolvers

/// The solver demonstration that `node-dist demo` prints: accuracy against
/// tolerance against work, on a batch with a known solution whose samples
/// differ widely in difficulty, with per-sample and shared step sizes side by side.
///
/// The batch is a set of damped rotations `y' = [[−δ, −ω], [ω, −δ]] y` with
/// frequencies ω spread log-uniformly over [0.5, 50]: a fast sample needs many
/// more steps than a slow one, which per-sample stepping exploits.
public struct SolverDemo {
  /// One line of the table.
  public struct Row: Sendable {
    /// The method's name.
    public let method: String
    /// `rtol = atol`.
    public let tolerance: Double
    /// The largest absolute error against the exact solution at the output times.
    public let maxError: Double
    /// Function evaluations per sample with per-sample steps: mean and max.
    public let meanEvaluations: Double
    public let maxEvaluations: Int
    /// Function evaluations per sample with one shared step size for the batch.
    public let sharedEvaluations: Double
    /// Wall time of the per-sample solve, in milliseconds.
    public let milliseconds: Double
  }

  /// The vector field of the batch.
  public let field: DampedRotationField<Double>
  /// The initial states `[B, 2]`.
  public let initialStates: Tensor<Double>
  /// The output times, shared by the batch.
  public let times: [Double]

  /// A batch of `samples` rotations integrated over `[0, span]` with 11 output times.
  public init(samples: Int = 1024, span: Double = 4, seed: UInt64 = 2018) {
    let rng = CounterRandom(seed: seed)
    let frequencies = (0..<samples).map { s in
      0.5 * pow(100, rng.uniform(stream: 0, index: UInt64(s), as: Double.self))
    }
    let dampings = (0..<samples).map {
      0.2 * rng.uniform(stream: 1, index: UInt64($0), as: Double.self)
    }
    field = DampedRotationField(frequencies: frequencies, dampings: dampings)
    initialStates = Tensor(
      shape: [samples, 2],
      scalars: (0..<(2 * samples)).map { rng.normal(stream: 2, index: UInt64($0)) })
    times = (0...10).map { span * Double($0) / 10 }
  }

  /// Samples of the demo batch that did not reach the final time: the
  /// table's error and work would mean nothing.
  public struct Failure: Error, CustomStringConvertible {
    public let method: String
    public let tolerance: Double
    /// How many samples ended with each status other than success.
    public let counts: [SolveStatus: Int]

    public var description: String {
      let what = counts.sorted { $0.key.rawValue < $1.key.rawValue }
        .map { "\($0.value) with \($0.key)" }.joined(separator: ", ")
      return "\(method) at tolerance \(tolerance): samples did not reach the final time (\(what));"
        + " try a shorter --span or looser --tolerances"
    }
  }

  /// Solves the batch with `method` at `tolerance`, per-sample and shared.
  ///
  /// - Throws: ``Failure`` when a sample's solve fails in either mode.
  public func run(method: ButcherTableau, tolerance: Double) throws -> Row {
    func solver(_ scope: ErrorControlScope) throws -> ODEIntegrator<Double> {
      var pi = PIController<Double>(relativeTolerance: tolerance, absoluteTolerance: tolerance)
      pi.scope = scope
      return try ODEIntegrator(method: method, controller: .adaptive(pi), maxSteps: 1_000_000)
    }
    let perSample = try solver(.perSample)
    let clock = ContinuousClock()
    var solution: ODESolution<Double>?
    let elapsed = try clock.measure {
      solution = try perSample.solve(field, initialStates: initialStates, times: .shared(times))
    }
    let shared = try solver(.sharedAcrossBatch).solve(
      field, initialStates: initialStates, times: .shared(times))
    let stats = solution!.statistics
    for failed in [stats, shared.statistics] where !failed.allSucceeded {
      throw Failure(
        method: method.name, tolerance: tolerance,
        counts: failed.statusCounts.filter { $0.key != .success })
    }
    return Row(
      method: method.name, tolerance: tolerance, maxError: maxError(solution!),
      meanEvaluations: stats.meanFunctionEvaluations, maxEvaluations: stats.maxFunctionEvaluations,
      sharedEvaluations: shared.statistics.meanFunctionEvaluations,
      milliseconds: Double(elapsed.components.attoseconds) * 1e-15
        + Double(elapsed.components.seconds) * 1e3)
  }

  private func maxError(_ solution: ODESolution<Double>) -> Double {
    var worst = 0.0
    for s in 0..<initialStates.shape[0] {
      let y0 = Array(initialStates.row(s))
      for (j, t) in times.enumerated() {
        let exact = field.exactState(sample: s, initial: y0, initialTime: times[0], time: t)
        for (a, b) in zip(solution.state(sample: s, time: j), exact) {
          worst = max(worst, abs(a - b))
        }
      }
    }
    return worst
  }
}
