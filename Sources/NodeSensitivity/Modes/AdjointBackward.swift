import NodeCore
import NodeSolvers

/// Where a sample's backward solve restarts: an output time (the adjoint
/// takes that output's cotangent) and, in the checkpointed mode, every
/// forward step boundary. `z` is reset there to the forward value.
struct RestartPoint<Scalar: TensorScalar> {
  enum Source {
    case output(Int)
    case step(Int)
  }
  let time: Scalar
  let state: Source
  /// Output indices ≥ 1 at this time, whose cotangents join the adjoint here.
  var outputs: [Int]
}

extension ODEGradientSolver {
  /// The adjoint modes' backward pass: every sample integrates `[z, a]` from
  /// its last restart point to its first, one segment per round, all samples
  /// of a round in one batched solve with their own adaptive steps.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func adjointBackward(
    _ pass: ForwardPass<Scalar>, cotangents: Tensor<Scalar>
  ) throws -> BackwardResult<Scalar> {
    let b = pass.batchSize
    let t = pass.solution.times.count
    let d = pass.field.dimension
    let width = 2 * d
    let g = cotangents.scalars
    var statistics = SolveStatistics<Scalar>(batchSize: b)
    var points = [[RestartPoint<Scalar>]](repeating: [], count: b)
    for s in 0..<b {
      let forwardStatus = pass.solution.statistics.status[s]
      if forwardStatus != .success {
        statistics.setOutcome(
          sample: s, status: forwardStatus, stopTime: pass.solution.statistics.stopTimes[s])
        continue
      }
      points[s] = restartPoints(pass, sample: s)
    }
    var alive = points.map { !$0.isEmpty }
    var augmented = [Scalar](repeating: 0, count: b * width)
    func restart(_ s: Int, at point: RestartPoint<Scalar>, addingTo adjoint: Bool) {
      let row = s * width
      let z = state(pass, sample: s, source: point.state)
      for i in 0..<d {
        augmented[row + i] = z[z.startIndex + i]
        if !adjoint { augmented[row + d + i] = 0 }
      }
      for j in point.outputs {
        for i in 0..<d { augmented[row + d + i] += g[(s * t + j) * d + i] }
      }
    }
    for s in 0..<b where alive[s] { restart(s, at: points[s][0], addingTo: false) }

    let augmentedField = AugmentedAdjointField(pass.field)
    let observer = ParameterIntegralObserver(
      field: pass.field, method: method, norm: adjointNorm,
      relativeTolerance: adjointTolerances.relative, absoluteTolerance: adjointTolerances.absolute,
      identifiers: pass.sampleIdentifiers, batchWide: adjointIntegrator.couplesSamples,
      augmentedField: augmentedField)
    let rounds = (points.map(\.count).max() ?? 1) - 1
    var grid = [Scalar](repeating: 0, count: b * 2)
    var firstSteps = [Scalar](repeating: 1, count: b)
    // Each sample's next first step when continuing (nil: Hairer's probe).
    var proposals = forwardContinuation(pass)
    for k in 0..<Swift.max(rounds, 0) {
      var shared = true
      for s in 0..<b {
        let here = points[s]
        if alive[s] && k + 1 < here.count {
          grid[2 * s] = here[k].time
          grid[2 * s + 1] = here[k + 1].time
          let span = Swift.abs(here[k].time - here[k + 1].time)
          // A proposal is positive after any accepted step; the span is a
          // fallback the controller shrinks if it must.
          let proposal = proposals?[s] ?? 0
          firstSteps[s] = proposal > 0 ? proposal : span
        } else {
          // Done (or failed): a zero-length interval costs no evaluation.
          let end = here.last?.time ?? pass.time(sample: s, index: 0)
          grid[2 * s] = end
          grid[2 * s + 1] = end
          firstSteps[s] = 1
        }
        shared = shared && grid[2 * s] == grid[0] && grid[2 * s + 1] == grid[1]
      }
      let times: TimeGrid<Scalar> =
        shared ? .shared([grid[0], grid[1]]) : .perSample(Tensor(shape: [b, 2], scalars: grid))
      let solution: ODESolution<Scalar>
      do {
        solution = try adjointIntegrator.solve(
          augmentedField, initialStates: Tensor(shape: [b, width], scalars: augmented),
          times: times, sampleIdentifiers: pass.sampleIdentifiers,
          initialStepSizes: mode == .checkpointed || proposals != nil ? firstSteps : nil,
          observer: observer)
      } catch let error as SolverError {
        throw SensitivityError.solver(error)
      }
      let inRound = (0..<b).filter { alive[$0] && k + 1 < points[$0].count }
      statistics.accumulate(solution.statistics.subset(inRound), samples: inRound)
      augmented = solution.finalStates.scalars
      for s in inRound {
        proposals?[s] = solution.statistics.nextStepSizes[s]
        if solution.statistics.status[s] != .success {
          alive[s] = false
          continue
        }
        restart(s, at: points[s][k + 1], addingTo: true)
      }
    }
    var adjointAtStart = [Scalar](repeating: .nan, count: b * d)
    for s in 0..<b where alive[s] {
      for i in 0..<d { adjointAtStart[s * d + i] = augmented[s * width + d + i] }
      statistics.setOutcome(sample: s, status: .success, stopTime: pass.time(sample: s, index: 0))
    }
    return BackwardResult(
      adjointAtStart: adjointAtStart, parameters: observer.gradient, statistics: statistics)
  }

  /// The forward solve's step proposals at each sample's final time, scaled
  /// to the adjoint's tolerances (an order-`p` pair's error estimate grows as
  /// `hᵖ`, the exponent Hairer's selection uses too: `h_a = h_f (tol_a /
  /// tol_f)^(1/p)`, the stricter of the relative and absolute ratios), when
  /// the adjoint continues from the forward solve
  /// (``AdjointFirstStep/continueForward``); nil when it selects its own.
  func forwardContinuation(_ pass: ForwardPass<Scalar>) -> [Scalar]? {
    guard mode == .adjoint, adjointFirstStep == .continueForward,
      !adjointIntegrator.couplesSamples,
      case .adaptive(let forward) = forwardController,
      case .adaptive(let adjoint) = adjointController
    else { return nil }
    let ratio = Swift.min(
      adjoint.relativeTolerance / forward.relativeTolerance,
      adjoint.absoluteTolerance / forward.absoluteTolerance)
    let scale = ratio == 1 ? 1 : Scalar.pow(ratio, 1 / Scalar(method.order))
    return pass.solution.statistics.nextStepSizes.map { $0 * scale }
  }

  /// The adjoint controller's tolerances (the parameter integral's error
  /// scale under the full norm); constant steps have none.
  var adjointTolerances: (relative: Scalar, absolute: Scalar) {
    if case .adaptive(let pi) = adjointController {
      return (pi.relativeTolerance, pi.absoluteTolerance)
    }
    return (0, 1)
  }

  /// Sample `s`'s restart points from its final time back to its initial
  /// time: its distinct output times and, checkpointed, its step boundaries.
  func restartPoints(_ pass: ForwardPass<Scalar>, sample s: Int) -> [RestartPoint<Scalar>] {
    let t = pass.solution.times.count
    let start = pass.time(sample: s, index: 0)
    let direction: Scalar = pass.time(sample: s, index: t - 1) >= start ? 1 : -1
    var boundaries: [Int] = []
    if mode == .checkpointed, let log = pass.log {
      // Steps 1 … N−1 start at a boundary; step 0 starts at t₀.
      boundaries = Array(log.recordsOfSample[s].dropFirst().reversed())
    }
    var points: [RestartPoint<Scalar>] = []
    func add(_ time: Scalar, _ source: RestartPoint<Scalar>.Source, output: Int?) {
      if let last = points.last, last.time == time {
        if let output { points[points.count - 1].outputs.append(output) }
        return
      }
      points.append(RestartPoint(time: time, state: source, outputs: output.map { [$0] } ?? []))
    }
    var j = t - 1
    var next = 0
    while j >= 1 || next < boundaries.count {
      let outputTime = j >= 1 ? pass.time(sample: s, index: j) : nil
      let boundaryTime = next < boundaries.count ? pass.log!.startTimes[boundaries[next]] : nil
      if let outputTime, boundaryTime.map({ direction * outputTime >= direction * $0 }) ?? true {
        add(outputTime, .output(j), output: j)
        j -= 1
      } else if let boundaryTime {
        add(boundaryTime, .step(boundaries[next]), output: nil)
        next += 1
      }
    }
    add(start, .output(0), output: nil)
    return points
  }

  /// The forward state a restart point resets `z` to.
  func state(
    _ pass: ForwardPass<Scalar>, sample s: Int, source: RestartPoint<Scalar>.Source
  ) -> ArraySlice<Scalar> {
    let d = pass.field.dimension
    switch source {
    case .output(0):
      return pass.initialStates.row(s)
    case .output(let j):
      return pass.solution.state(sample: s, time: j)
    case .step(let record):
      return pass.log!.states[(record * d)..<((record + 1) * d)]
    }
  }
}
