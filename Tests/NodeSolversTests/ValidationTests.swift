import NodeCore
import NodeSolvers
import Testing

/// Bad input is refused with an error that names what is wrong and what is allowed.
@Suite struct ValidationTests {
  let field = ExponentialDecayField<Double>(rates: [1, 1], dimension: 2)
  let initial = Tensor<Double>(shape: [2, 2], repeating: 1)

  @Test func wrongStateShape() throws {
    let error = #expect(throws: SolverError.self) {
      try adaptiveIntegrator(tolerance: 1e-6).solve(
        field, initialStates: Tensor(shape: [2, 3]), times: .shared([0, 1]))
    }
    #expect(error?.description == "the initial states has shape [2, 3]; expected [B, 2]")
  }

  @Test func badTimeGrids() throws {
    let integrator = try adaptiveIntegrator(tolerance: Double(1e-6))
    for (grid, message) in [
      (TimeGrid<Double>.shared([0]), "needs at least 2"),
      (.shared([0, .nan]), "non-finite"),
      (.shared([0, 1, 0.5]), "not monotone"),
      (.perSample(Tensor(shape: [3, 2])), "expected [2, T]"),
    ] {
      let error = #expect(throws: SolverError.self) {
        try integrator.solve(field, initialStates: initial, times: grid)
      }
      #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }
  }

  @Test func badOptions() {
    #expect(throws: SolverError.methodNotAdaptive(method: "rk4")) {
      try ODEIntegrator<Double>(
        method: .rk4,
        controller: .adaptive(PIController(relativeTolerance: 1e-3, absoluteTolerance: 1e-6)))
    }
    #expect(throws: SolverError.self) {
      try ODEIntegrator<Double>(method: .euler, controller: .constant(stepSize: -1))
    }
    #expect(throws: SolverError.self) {
      try adaptiveIntegrator(tolerance: Double(1e-6), maxSteps: 0)
    }
    for configure: (inout PIController<Double>) -> Void in [
      { $0.relativeTolerance = -1 }, { $0.absoluteTolerance = .nan },
      {
        $0.relativeTolerance = 0
        $0.absoluteTolerance = 0
      }, { $0.safety = 1.5 },
      { $0.minFactor = 0 }, { $0.maxFactor = 0.5 }, { $0.initialStepSize = 0 },
      { $0.maxStepSize = 0 }, { $0.maxNonFiniteRetries = 0 },
    ] {
      #expect(throws: SolverError.self) {
        try adaptiveIntegrator(tolerance: 1e-6, configure: configure)
      }
    }
    let message = SolverError.methodNotAdaptive(method: "rk4").description
    #expect(message.contains("heun-euler, bosh3, dopri5, tsit5, dop853"))
  }

  @Test func sharedStepsNeedOneGrid() throws {
    #expect(throws: SolverError.sharedStepNeedsSharedGrid) {
      try adaptiveIntegrator(tolerance: 1e-6, scope: .sharedAcrossBatch).solve(
        field, initialStates: initial,
        times: .perSample(Tensor(shape: [2, 2], scalars: [0, 1, 0, 2])))
    }
  }

  @Test func methodsByName() {
    for method in ButcherTableau.all { #expect(ButcherTableau.named(method.name) == method) }
    #expect(ButcherTableau.named("DOPRI5") == .dormandPrince)
    #expect(ButcherTableau.named("rk45") == nil)
  }

  @Test func emptyBatch() throws {
    let solution = try adaptiveIntegrator(tolerance: Double(1e-6)).solve(
      field, initialStates: Tensor(shape: [0, 2]), times: .shared([0, 1]))
    #expect(solution.states.shape == [0, 2, 2])
    #expect(solution.statistics.count == 0)
  }
}
