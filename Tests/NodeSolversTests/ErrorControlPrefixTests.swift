import Foundation
import NodeCore
import NodeSolvers
import Testing

/// ``PIController/controlledDimensions``: error control over a prefix of the state.
@Suite struct ErrorControlPrefixTests {
  /// A rotation `[y₀, y₁]`, optionally followed by stiff-looking passengers
  /// that read the state but never feed back into it.
  func field(passengers: Int) -> ClosureField {
    ClosureField(dimension: 2 + passengers) { _, t, y, f in
      f[0] = -y[1] + 0.3 * sin(3 * t)
      f[1] = y[0]
      for p in 0..<passengers { f[2 + p] = 50 * Double(p + 1) * cos(40 * t) * y[0] * y[0] }
    }
  }

  /// Passengers outside the prefix leave every step, state and count of the
  /// controlled components bitwise as without them (initial step included).
  @Test(arguments: [ErrorControlScope.perSample, .sharedAcrossBatch])
  func componentsOutsideThePrefixDoNotChangeTheSteps(scope: ErrorControlScope) throws {
    let y0 = circleStates(3)
    let plain = try adaptiveIntegrator(tolerance: 1e-7, scope: scope).solve(
      field(passengers: 0), initialStates: y0, times: .shared([0, 0.5, 2]))
    let prefixed = try adaptiveIntegrator(tolerance: 1e-7, scope: scope) {
      $0.controlledDimensions = 2
    }
    var padded = [Double]()
    for s in 0..<3 { padded += Array(y0.row(s)) + [0, 0] }
    let solution = try prefixed.solve(
      field(passengers: 2), initialStates: Tensor(shape: [3, 4], scalars: padded),
      times: .shared([0, 0.5, 2]))
    #expect(solution.statistics.functionEvaluations == plain.statistics.functionEvaluations)
    #expect(solution.statistics.acceptedSteps == plain.statistics.acceptedSteps)
    #expect(solution.statistics.rejectedSteps == plain.statistics.rejectedSteps)
    for s in 0..<3 {
      for j in 0..<3 {
        #expect(
          Array(solution.state(sample: s, time: j).prefix(2))
            == Array(plain.state(sample: s, time: j)))
      }
    }
    // Controlling every component takes more steps for the passengers.
    let full = try adaptiveIntegrator(tolerance: 1e-7, scope: scope).solve(
      field(passengers: 2), initialStates: Tensor(shape: [3, 4], scalars: padded),
      times: .shared([0, 0.5, 2]))
    #expect(full.statistics.functionEvaluations[0] > plain.statistics.functionEvaluations[0])
  }

  /// A prefix of every component is the default norm, bitwise.
  @Test func aFullPrefixIsTheDefault() throws {
    let all = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field(passengers: 1), initialStates: Tensor(shape: [2, 3], scalars: [1, 0, 0, 0, 1, 0]),
      times: .shared([0, 1]))
    let prefixed = try adaptiveIntegrator(tolerance: 1e-6) { $0.controlledDimensions = 3 }.solve(
      field(passengers: 1), initialStates: Tensor(shape: [2, 3], scalars: [1, 0, 0, 0, 1, 0]),
      times: .shared([0, 1]))
    #expect(all.finalStates == prefixed.finalStates)
    #expect(all.statistics.functionEvaluations == prefixed.statistics.functionEvaluations)
  }

  /// Prefixes outside `1 ... dimension` are refused with the allowed range.
  @Test func prefixesOutOfRangeAreRefused() throws {
    #expect(
      throws: SolverError.invalidOption(
        name: "controlled dimensions", value: "0", allowed: "nil (every component) or ≥ 1")
    ) {
      try adaptiveIntegrator(tolerance: 1e-6) { $0.controlledDimensions = 0 }
    }
    let integrator = try adaptiveIntegrator(tolerance: 1e-6) { $0.controlledDimensions = 3 }
    #expect(
      throws: SolverError.invalidOption(
        name: "controlled dimensions", value: "3",
        allowed: "nil (every component) or 1 ... 2, the field's dimension")
    ) {
      try integrator.solve(
        field(passengers: 0), initialStates: circleStates(1), times: .shared([0, 1]))
    }
  }
}
