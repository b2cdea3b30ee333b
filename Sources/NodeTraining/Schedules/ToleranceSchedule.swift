import Foundation

/// A solver's relative and absolute tolerances.
public struct Tolerance: Sendable, Equatable, Codable, CustomStringConvertible {
  /// `rtol`.
  public var relative: Double
  /// `atol`.
  public var absolute: Double

  /// Tolerances `rtol`, `atol`.
  public init(relative: Double, absolute: Double) {
    self.relative = relative
    self.absolute = absolute
  }

  public var description: String { "rtol \(relative), atol \(absolute)" }

  /// The pair in `Scalar`, as the models' tolerance setters take it.
  public func scalars<Scalar: BinaryFloatingPoint>(as _: Scalar.Type = Scalar.self) -> (
    relative: Scalar, absolute: Scalar
  ) {
    (Scalar(relative), Scalar(absolute))
  }
}

/// What a schedule counts in: optimizer steps or epochs.
public enum ScheduleUnit: String, Sendable, Equatable, Codable, CaseIterable {
  case step, epoch
}

/// How one solve's tolerance (forward, adjoint or evaluation) changes over a
/// run. The coordinator evaluates it and broadcasts the result, so every
/// rank solves at the same tolerance.
///
/// The paper's observation (Chen et al. 2018, §3, fig. 3) — a model trained at
/// one tolerance can be evaluated at a looser one for fewer evaluations —
/// is a constant evaluation schedule that differs from the forward one.
public struct ToleranceSchedule: Sendable, Equatable, Codable {
  /// The rule.
  public enum Rule: Sendable, Equatable, Codable {
    /// The same tolerance throughout.
    case constant(Tolerance)
    /// `values[i]` until `boundaries[i]` (exclusive), then `values.last`:
    /// `values.count == boundaries.count + 1`, boundaries increasing.
    case piecewise(unit: ScheduleUnit, boundaries: [Int], values: [Tolerance])
    /// Geometric interpolation from `start` at 0 to `end` at `length` (held
    /// after): `rtol(u) = rtol₀ (rtol₁/rtol₀)^(u/length)`, the same for `atol`.
    case geometric(unit: ScheduleUnit, start: Tolerance, end: Tolerance, length: Int)
    /// Feedback toward a target number of function evaluations per sample:
    /// after each observation, when the mean NFE per sample exceeds
    /// `target · (1 + band)` both tolerances are multiplied by `factor`
    /// (looser: fewer steps), when it is below `target · (1 − band)` divided
    /// by it (tighter), always within `[tightest, loosest]` in `rtol` with
    /// `atol/rtol` kept at its starting ratio.
    case adaptive(AdaptiveTolerance)
  }

  /// The rule and, for ``Rule/adaptive(_:)``, its current state.
  public private(set) var rule: Rule

  /// A schedule following `rule`.
  public init(_ rule: Rule) { self.rule = rule }

  /// A constant schedule.
  public static func constant(_ tolerance: Tolerance) -> ToleranceSchedule {
    ToleranceSchedule(.constant(tolerance))
  }

  /// The tolerance at optimizer step `step` in epoch `epoch`.
  public func tolerance(step: Int, epoch: Int) -> Tolerance {
    switch rule {
    case .constant(let tolerance):
      return tolerance
    case .piecewise(let unit, let boundaries, let values):
      let position = unit == .step ? step : epoch
      let piece = boundaries.firstIndex { position < $0 } ?? boundaries.count
      return values[piece]
    case .geometric(let unit, let start, let end, let length):
      let position = Double(unit == .step ? step : epoch)
      let fraction = length > 0 ? Swift.min(1, position / Double(length)) : 1
      return Tolerance(
        relative: start.relative * pow(end.relative / start.relative, fraction),
        absolute: start.absolute * pow(end.absolute / start.absolute, fraction))
    case .adaptive(let state):
      return state.current
    }
  }

  /// This schedule continuing from `stored` (a checkpoint's): an adaptive
  /// rule keeps the stored tolerance in force (within this rule's bounds);
  /// every other rule is a function of the step and needs no state.
  public func resumed(from stored: ToleranceSchedule) -> ToleranceSchedule {
    guard case .adaptive(var mine) = rule, case .adaptive(let theirs) = stored.rule else {
      return self
    }
    mine.continue(from: theirs.current)
    return ToleranceSchedule(.adaptive(mine))
  }

  /// Feeds the mean NFE per sample of the solves this schedule governs to an
  /// adaptive rule (other rules ignore it). Non-finite or zero observations
  /// (a skipped step) change nothing.
  public mutating func observe(meanEvaluations: Double) {
    guard case .adaptive(var state) = rule, meanEvaluations.isFinite, meanEvaluations > 0
    else { return }
    state.observe(meanEvaluations: meanEvaluations)
    rule = .adaptive(state)
  }
}

/// The state of ``ToleranceSchedule/Rule/adaptive(_:)``.
public struct AdaptiveTolerance: Sendable, Equatable, Codable {
  /// The tolerance in force.
  public private(set) var current: Tolerance
  /// The NFE per sample aimed at.
  public var target: Double
  /// The relative dead band around the target, e.g. 0.1.
  public var band: Double
  /// The multiplier of one adjustment (> 1).
  public var factor: Double
  /// The bounds of `rtol`.
  public var tightest: Double
  public var loosest: Double

  /// A rule starting at `initial`.
  public init(
    initial: Tolerance, target: Double, band: Double = 0.1, factor: Double = 1.25,
    tightest: Double = 1e-8, loosest: Double = 1e-1
  ) {
    current = initial
    self.target = target
    self.band = band
    self.factor = factor
    self.tightest = tightest
    self.loosest = loosest
  }

  /// Puts `tolerance` in force, `rtol` clamped to the bounds, this rule's `atol/rtol` ratio.
  mutating func `continue`(from tolerance: Tolerance) {
    let ratio = current.absolute / current.relative
    let relative = Swift.min(loosest, Swift.max(tightest, tolerance.relative))
    current = Tolerance(relative: relative, absolute: relative * ratio)
  }

  mutating func observe(meanEvaluations nfe: Double) {
    var scale = 1.0
    if nfe > target * (1 + band) { scale = factor }
    if nfe < target * (1 - band) { scale = 1 / factor }
    let relative = Swift.min(loosest, Swift.max(tightest, current.relative * scale))
    let ratio = current.absolute / current.relative
    current = Tolerance(relative: relative, absolute: relative * ratio)
  }
}

/// The three tolerance schedules of a run.
public struct SolverTolerances: Sendable, Equatable, Codable {
  /// The training forward solve.
  public var forward: ToleranceSchedule
  /// The adjoint (backward) solve.
  public var adjoint: ToleranceSchedule
  /// Evaluation and sampling.
  public var evaluation: ToleranceSchedule

  /// The three schedules.
  public init(
    forward: ToleranceSchedule, adjoint: ToleranceSchedule, evaluation: ToleranceSchedule
  ) {
    self.forward = forward
    self.adjoint = adjoint
    self.evaluation = evaluation
  }

  /// These schedules continuing from a checkpoint's (``ToleranceSchedule/resumed(from:)``).
  public func resumed(from stored: SolverTolerances) -> SolverTolerances {
    SolverTolerances(
      forward: forward.resumed(from: stored.forward),
      adjoint: adjoint.resumed(from: stored.adjoint),
      evaluation: evaluation.resumed(from: stored.evaluation))
  }

  /// The tolerances in force at a step, in the order forward, adjoint, evaluation.
  public func values(step: Int, epoch: Int) -> SolveTolerances {
    SolveTolerances(
      forward: forward.tolerance(step: step, epoch: epoch),
      adjoint: adjoint.tolerance(step: step, epoch: epoch),
      evaluation: evaluation.tolerance(step: step, epoch: epoch))
  }
}

/// The tolerances of one step's three kinds of solve.
public struct SolveTolerances: Sendable, Equatable, Codable {
  public var forward: Tolerance
  public var adjoint: Tolerance
  public var evaluation: Tolerance

  /// The three tolerances.
  public init(forward: Tolerance, adjoint: Tolerance, evaluation: Tolerance) {
    self.forward = forward
    self.adjoint = adjoint
    self.evaluation = evaluation
  }

  /// The six numbers, for a broadcast.
  var flat: [Double] {
    [
      forward.relative, forward.absolute, adjoint.relative, adjoint.absolute,
      evaluation.relative, evaluation.absolute,
    ]
  }

  /// From ``flat``.
  init(flat v: [Double]) {
    self.init(
      forward: Tolerance(relative: v[0], absolute: v[1]),
      adjoint: Tolerance(relative: v[2], absolute: v[3]),
      evaluation: Tolerance(relative: v[4], absolute: v[5]))
  }
}
