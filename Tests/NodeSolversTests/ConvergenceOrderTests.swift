import Foundation
import NodeCore
import NodeSolvers
import Testing

/// Every method, run at constant steps that halve, shows its order of
/// convergence on problems with known solutions.
@Suite struct ConvergenceOrderTests {
  static let methods = ButcherTableau.all

  /// Global error at the final time for steps h, h/2, h/4, h/8.
  func finalErrors<Field: KnownSolutionField>(
    _ method: ButcherTableau, field: Field, initial: Tensor<Double>, span: Double, coarse: Double
  ) throws -> [Double] where Field.Scalar == Double {
    try (0..<4).map { k in
      let h = coarse / Double(1 << k)
      let solution = try constantStepIntegrator(method, step: h).solve(
        field, initialStates: initial, times: .shared([0, span]))
      #expect(solution.statistics.allSucceeded)
      #expect(solution.statistics.acceptedSteps[0] == Int((span / h).rounded()))
      return maxError(solution, field: field, initial: initial, times: [0, span])
    }
  }

  /// Steps coarse enough that the error stays far above round-off at order p.
  func coarseStep(_ method: ButcherTableau) -> Double {
    method.order >= 8 ? 1 : method.order >= 5 ? 0.25 : method.order >= 3 ? 0.1 : 0.05
  }

  @Test(arguments: methods)
  func exponentialDecay(_ method: ButcherTableau) throws {
    let field = ExponentialDecayField<Double>(rates: [1.5, 0.5], dimension: 3)
    let initial = Tensor<Double>(shape: [2, 3], scalars: [1, -2, 0.5, 3, 1, -1])
    let orders = observedOrders(
      try finalErrors(method, field: field, initial: initial, span: 2, coarse: coarseStep(method)))
    #expect(abs(orders.last! - Double(method.order)) < 0.3, "\(method.name): \(orders)")
  }

  @Test(arguments: methods)
  func linearRotation(_ method: ButcherTableau) throws {
    let field = DampedRotationField<Double>(frequencies: [1, 2], dampings: [0, 0.3])
    let orders = observedOrders(
      try finalErrors(
        method, field: field, initial: circleStates(2), span: 1.5, coarse: coarseStep(method)))
    #expect(abs(orders.last! - Double(method.order)) < 0.3, "\(method.name): \(orders)")
  }

  @Test(arguments: methods)
  func nonlinearLogistic(_ method: ButcherTableau) throws {
    let field = LogisticField<Double>(rates: [3, 1.5])
    let initial = Tensor<Double>(shape: [2, 1], scalars: [0.1, 0.8])
    let orders = observedOrders(
      try finalErrors(method, field: field, initial: initial, span: 2, coarse: coarseStep(method)))
    #expect(abs(orders.last! - Double(method.order)) < 0.3, "\(method.name): \(orders)")
  }

  @Test(arguments: methods)
  func nonlinearTimeDependent(_ method: ButcherTableau) throws {
    let field = TimeDependentRiccatiField<Double>()
    let initial = Tensor<Double>(shape: [2, 1], scalars: [1, 2])
    // The leading error term dominates only for smaller steps: start finer (but
    // not for order 8, whose errors reach round-off within four halvings).
    let orders = observedOrders(
      try finalErrors(
        method, field: field, initial: initial, span: 1.5,
        coarse: method.order >= 8 ? 0.75 : coarseStep(method) / 4))
    #expect(abs(orders.last! - Double(method.order)) < 0.3, "\(method.name): \(orders)")
  }

  /// Between steps, the dense output converges with order min(p, p* + 1),
  /// p* the interpolant's order.
  @Test(arguments: methods)
  func denseOutputOrder(_ method: ButcherTableau) throws {
    let field = DampedRotationField<Double>(frequencies: [1.3], dampings: [0.2])
    let initial = circleStates(1)
    let coarse = coarseStep(method)
    let errors = try (0..<4).map { k -> Double in
      let h = coarse / Double(1 << k)
      // Output times strictly inside steps: t = (i + 0.37) h.
      let times = [0.0] + (0..<Int((1.5 / h).rounded())).map { (Double($0) + 0.37) * h } + [1.5]
      let solution = try constantStepIntegrator(method, step: h).solve(
        field, initialStates: initial, times: .shared(times))
      return maxError(solution, field: field, initial: initial, times: times)
    }
    let expected = Double(min(method.order, method.interpolantOrder + 1))
    let orders = observedOrders(errors)
    #expect(abs(orders.last! - expected) < 0.3, "\(method.name): \(orders), expected \(expected)")
  }
}
