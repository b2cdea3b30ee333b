import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// Bad inputs get errors that name what was wrong; failed samples are reported, not hidden.
@Suite struct GradientSolverValidationTests {
  static let controller = StepSizeController<Double>.adaptive(
    PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6))

  static func field() -> MLPField<Double> {
    MLPField(widths: [2, 4, 2], activation: .tanh, timeInput: false, seed: 1)
  }

  @Test func cotangentsOfTheWrongShapeAreRefused() throws {
    let solver = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: Self.controller)
    let pass = try solver.forward(
      Self.field(), initialStates: Tensor(shape: [3, 2], repeating: 0.5), times: .shared([0, 1]))
    #expect(
      throws: SensitivityError.shapeMismatch(
        what: "the output cotangents", expected: "[3, 2, 2] (samples, times, state)", found: [3, 2])
    ) {
      try solver.backward(pass, outputCotangents: Tensor(shape: [3, 2]))
    }
  }

  @Test func aForwardPassOfAnotherModeIsRefused() throws {
    let adjoint = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: Self.controller)
    let backprop = try ODEGradientSolver(
      mode: .backprop, method: .dormandPrince, forward: Self.controller)
    let pass = try adjoint.forward(
      Self.field(), initialStates: Tensor(shape: [1, 2], repeating: 0.5), times: .shared([0, 1]))
    let error = #expect(throws: SensitivityError.self) {
      try backprop.backward(pass, outputCotangents: Tensor(shape: [1, 2, 2]))
    }
    #expect(error?.description.contains("made for mode adjoint") == true)
  }

  @Test func unsupportedCombinationsNameTheAlternatives() throws {
    let solver = try ODEGradientSolver(
      mode: .backprop, method: .dormandPrince853, forward: Self.controller)
    let error = #expect(throws: SensitivityError.self) {
      try solver.forward(
        Self.field(), initialStates: Tensor(shape: [1, 2], repeating: 0.5),
        times: .shared([0, 0.5, 1]))
    }
    #expect(error?.description.contains("dop853") == true)
    var shared = PIController<Double>(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
    shared.scope = .sharedAcrossBatch
    #expect(throws: SensitivityError.self) {
      try ODEGradientSolver(
        mode: .checkpointed, method: .dormandPrince, forward: Self.controller,
        adjoint: .adaptive(shared))
    }
    #expect(throws: SensitivityError.solver(.methodNotAdaptive(method: "rk4"))) {
      try ODEGradientSolver(mode: .adjoint, method: .rk4, forward: Self.controller)
    }
  }

  /// A sample whose forward solve fails gets NaN gradients and its status;
  /// the others' gradients are those they have alone.
  @Test(arguments: GradientMode.allCases)
  func failedSamplesAreReported(mode: GradientMode) throws {
    let solver = try ODEGradientSolver(
      mode: mode, method: .dormandPrince, forward: Self.controller, maxSteps: 50)
    let field = Self.field()
    let states = Tensor<Double>(shape: [2, 2], scalars: [0.3, -0.2, .nan, 1])
    let pass = try solver.forward(field, initialStates: states, times: .shared([0, 1]))
    let gradients = try solver.backward(
      pass, outputCotangents: Tensor(shape: [2, 2, 2], repeating: 1), timeGradients: true)
    #expect(gradients.statistics.status == [.success, .nonFiniteState])
    #expect(gradients.initialStates.row(1).allSatisfy { $0.isNaN })
    #expect(gradients.initialStates.row(0).allSatisfy { $0.isFinite })
    #expect(gradients.parameters.scalars.allSatisfy { $0.isFinite })
    let alone = try solver.backward(
      try solver.forward(
        field, initialStates: Tensor(shape: [1, 2], scalars: [0.3, -0.2]), times: .shared([0, 1])),
      outputCotangents: Tensor(shape: [1, 2, 2], repeating: 1))
    #expect(
      relativeDistance(gradients.parameters.scalars, alone.parameters.scalars) < 1e-12)
  }

  /// Outputs at repeated times and at the initial time feed the adjoint correctly.
  @Test(arguments: GradientMode.allCases)
  func repeatedAndInitialOutputTimes(mode: GradientMode) throws {
    let problem = GradientProblem(
      field: CubicTestField(), initialStates: Tensor(shape: [1, 2], scalars: [1, 0.5]),
      times: [0, 0, 0.4, 0.4, 1])
    // Finite differences cannot move one of a repeated pair of times.
    let reference = try problem.finiteDifferences(includingTimes: false)
    let gradients = try problem.gradients(mode: mode, tolerance: 1e-12)
    #expect(largestRelativeError(gradients.parameters.scalars, reference.parameters) < 1e-6)
    #expect(largestRelativeError(gradients.initialStates.scalars, reference.initialStates) < 1e-6)
  }
}
