import Foundation
import NodeCore
import NodeSolvers
import Testing

/// Adaptive integration: the global error follows the tolerance, the dense
/// output is accurate between steps, and time can run backward.
@Suite struct AdaptiveSolveTests {
  static let adaptiveMethods = ButcherTableau.all.filter(\.isAdaptive)

  @Test(arguments: adaptiveMethods)
  func globalErrorTracksTolerance(_ method: ButcherTableau) throws {
    let field = DampedRotationField<Double>(frequencies: [1, 3, 7], dampings: [0.1, 0, 0.5])
    let initial = circleStates(3)
    let times = [0.0, 2.0]
    var errors: [Double] = []
    let tolerances = [1e-4, 1e-6, 1e-8]
    for tolerance in tolerances {
      let solution = try adaptiveIntegrator(method, tolerance: tolerance).solve(
        field, initialStates: initial, times: .shared(times))
      #expect(solution.statistics.allSucceeded)
      errors.append(maxError(solution, field: field, initial: initial, times: times))
    }
    for (error, tolerance) in zip(errors, tolerances) {
      #expect(error < 100 * tolerance, "\(method.name): error \(error) at tolerance \(tolerance)")
    }
    // Tightening the tolerance 100-fold cuts the error at least 10-fold.
    for (looser, tighter) in zip(errors, errors.dropFirst()) {
      #expect(tighter < looser / 10, "\(method.name): errors \(errors)")
    }
  }

  @Test(arguments: adaptiveMethods)
  func denseOutputBetweenSteps(_ method: ButcherTableau) throws {
    let field = DampedRotationField<Double>(frequencies: [2, 5], dampings: [0.2, 0.1])
    let initial = circleStates(2)
    let times = (0...200).map { Double($0) / 100 }
    let tolerance = 1e-7
    let solution = try adaptiveIntegrator(method, tolerance: tolerance).solve(
      field, initialStates: initial, times: .shared(times))
    #expect(solution.statistics.allSucceeded)
    let error = maxError(solution, field: field, initial: initial, times: times)
    #expect(error < 1e3 * tolerance, "\(method.name): dense-output error \(error)")
  }

  @Test func outputTimesDoNotChangeTheSteps() throws {
    let field = DampedRotationField<Double>(frequencies: [4], dampings: [0.1])
    let integrator = try adaptiveIntegrator(tolerance: 1e-6)
    let coarse = try integrator.solve(
      field, initialStates: circleStates(1), times: .shared([0, 3]))
    let fine = try integrator.solve(
      field, initialStates: circleStates(1), times: .shared((0...300).map { Double($0) / 100 }))
    #expect(coarse.statistics.acceptedSteps == fine.statistics.acceptedSteps)
    #expect(coarse.statistics.functionEvaluations == fine.statistics.functionEvaluations)
    #expect(Array(coarse.state(sample: 0, time: 1)) == Array(fine.state(sample: 0, time: 300)))
  }

  @Test(arguments: adaptiveMethods)
  func backwardInTime(_ method: ButcherTableau) throws {
    let field = DampedRotationField<Double>(frequencies: [1.5, 4], dampings: [0.3, -0.2])
    let initial = circleStates(2)
    let times = [2.0, 1.4, 0.5, -0.5]
    let solution = try adaptiveIntegrator(method, tolerance: 1e-8).solve(
      field, initialStates: initial, times: .shared(times))
    #expect(solution.statistics.allSucceeded)
    #expect(solution.statistics.stopTimes == [-0.5, -0.5])
    #expect(maxError(solution, field: field, initial: initial, times: times) < 1e-5)
  }

  @Test func perSampleTimeGrids() throws {
    let field = TimeDependentRiccatiField<Double>()
    let initial = Tensor<Double>(shape: [3, 1], scalars: [1, 0.5, 0.2])
    // Each sample on its own grid, one of them backward.
    let grids = Tensor<Double>(shape: [3, 3], scalars: [0, 0.5, 1, 1, 1.5, 3, 2, 1, 0.25])
    let solution = try adaptiveIntegrator(tolerance: 1e-9).solve(
      field, initialStates: initial, times: .perSample(grids))
    #expect(solution.statistics.allSucceeded)
    #expect(solution.statistics.stopTimes == [1, 3, 0.25])
    for s in 0..<3 {
      let grid = Array(grids.row(s))
      for j in 0..<3 {
        let exact = field.exactState(
          sample: s, initial: Array(initial.row(s)), initialTime: grid[0], time: grid[j])
        #expect(abs(solution.state(sample: s, time: j).first! - exact[0]) < 1e-7)
      }
    }
  }

  @Test func repeatedAndInitialOutputTimes() throws {
    let field = ExponentialDecayField<Double>(rates: [1])
    let initial = Tensor<Double>(shape: [1, 1], scalars: [2])
    let solution = try adaptiveIntegrator(tolerance: 1e-9).solve(
      field, initialStates: initial, times: .shared([0, 0, 0.5, 0.5, 1]))
    #expect(solution.state(sample: 0, time: 0).first == 2)
    #expect(solution.state(sample: 0, time: 1).first == 2)
    #expect(solution.state(sample: 0, time: 2) == solution.state(sample: 0, time: 3))
    #expect(abs(solution.state(sample: 0, time: 4).first! - 2 * exp(-1)) < 1e-8)
  }

  @Test func zeroLengthIntervalCostsNothing() throws {
    let field = ExponentialDecayField<Double>(rates: [1, 1])
    let initial = Tensor<Double>(shape: [2, 1], scalars: [2, 3])
    let grids = Tensor<Double>(shape: [2, 2], scalars: [0.5, 0.5, 0, 1])
    let solution = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: initial, times: .perSample(grids))
    #expect(solution.statistics.functionEvaluations[0] == 0)
    #expect(solution.statistics.status == [.success, .success])
    #expect(solution.finalStates[0, 0] == 2)
    #expect(solution.statistics.functionEvaluations[1] > 0)
  }

  @Test func fsalSavesAnEvaluationPerStep() throws {
    let field = DampedRotationField<Double>(frequencies: [3])
    for method in [ButcherTableau.dormandPrince, .tsitouras, .bogackiShampine, .dormandPrince853] {
      #expect(method.isFirstSameAsLast)
      let stats = try adaptiveIntegrator(method, tolerance: 1e-6).solve(
        field, initialStates: circleStates(1), times: .shared([0, 2])
      ).statistics
      let attempts = stats.acceptedSteps[0] + stats.rejectedSteps[0]
      // f(t0, y0), Hairer's probe, then s − 1 evaluations per attempt.
      #expect(stats.functionEvaluations[0] == 2 + (method.stageCount - 1) * attempts)
    }
    #expect(!ButcherTableau.heunEuler.isFirstSameAsLast)
  }

  /// DOP853's dense stages cost three evaluations, only on steps that hold an
  /// output time inside them, and change nothing about the steps.
  @Test func denseStagesOnlyWhereOutputsFall() throws {
    let field = DampedRotationField<Double>(frequencies: [3])
    let integrator = try adaptiveIntegrator(.dormandPrince853, tolerance: 1e-8)
    let plain = try integrator.solve(field, initialStates: circleStates(1), times: .shared([0, 2]))
    let inside = try integrator.solve(
      field, initialStates: circleStates(1), times: .shared([0, 0.123, 2]))
    #expect(plain.statistics.acceptedSteps == inside.statistics.acceptedSteps)
    #expect(inside.statistics.functionEvaluations[0] == plain.statistics.functionEvaluations[0] + 3)
    #expect(plain.finalStates.isBitwiseIdentical(to: inside.finalStates))
    let exact = field.exactState(
      sample: 0, initial: Array(circleStates(1).row(0)), initialTime: 0, time: 0.123)
    #expect(zip(inside.state(sample: 0, time: 1), exact).allSatisfy { abs($0 - $1) < 1e-8 })
  }

  @Test func floatSolveMatchesDoubleToFloatAccuracy() throws {
    let field = DampedRotationField<Float>(frequencies: [2, 5], dampings: [0.1, 0.3])
    let initial = circleStates(2).converted(to: Float.self)
    let solution = try adaptiveIntegrator(tolerance: Float(1e-5)).solve(
      field, initialStates: initial, times: .shared([0, 1, 2]))
    #expect(solution.statistics.allSucceeded)
    for s in 0..<2 {
      let exact = field.exactState(
        sample: s, initial: Array(initial.row(s)), initialTime: 0, time: 2)
      for (a, b) in zip(solution.state(sample: s, time: 2), exact) { #expect(abs(a - b) < 1e-3) }
    }
  }
}

/// The controller's gains and limits act as configured.
@Suite struct ControllerTests {
  let field = DampedRotationField<Double>(frequencies: [2, 9], dampings: [0.1, 0.4])

  @Test func proportionalIntegralGainsKeepAccuracyAndChangeTheSteps() throws {
    let integral = try adaptiveIntegrator(tolerance: 1e-7).solve(
      field, initialStates: circleStates(2), times: .shared([0, 3]))
    let pi = try adaptiveIntegrator(tolerance: 1e-7) {
      $0.integralGain = 0.3
      $0.proportionalGain = 0.4
    }.solve(field, initialStates: circleStates(2), times: .shared([0, 3]))
    #expect(pi.statistics.allSucceeded)
    #expect(pi.statistics.acceptedSteps != integral.statistics.acceptedSteps)
    #expect(maxError(pi, field: field, initial: circleStates(2), times: [0, 3]) < 1e-5)
  }

  @Test func maximumStepSizeBoundsTheSteps() throws {
    let limited = try adaptiveIntegrator(tolerance: 1e-3) { $0.maxStepSize = 0.01 }.solve(
      field, initialStates: circleStates(2), times: .shared([0, 1]))
    // At most 0.01 per step over a unit interval: at least 100 accepted steps.
    #expect(limited.statistics.acceptedSteps.allSatisfy { $0 >= 100 })
  }

  @Test func givenInitialStepSkipsHairersProbe() throws {
    let given = try adaptiveIntegrator(tolerance: 1e-6) { $0.initialStepSize = 1e-3 }.solve(
      field, initialStates: circleStates(2), times: .shared([0, 1]))
    let stats = given.statistics
    for s in 0..<2 {
      // f(t0, y0) once, then 6 per attempted dopri5 step: no probe evaluation.
      #expect(
        stats.functionEvaluations[s] == 1 + 6 * (stats.acceptedSteps[s] + stats.rejectedSteps[s]))
    }
  }
}
