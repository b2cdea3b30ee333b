import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// The three gradient modes against finite differences and closed forms.
@Suite struct GradientModeTests {
  /// `dz/dt = A z` with `A` diagonal: `z_i(T) = e^{λ_i T} z0_i`, and for
  /// `L = Σ_i c_i z_i(T)` the gradient with respect to `A_ij` is
  /// `c_i z0_j (e^{λ_i T} − e^{λ_j T}) / (λ_i − λ_j)` (`T c_i z0_i e^{λ_i T}` on the diagonal).
  @Test(arguments: GradientMode.allCases)
  func linearClosedForm(mode: GradientMode) throws {
    let lambda = [-0.5, 0.3, -1.2]
    var matrix = [Double](repeating: 0, count: 9)
    for i in 0..<3 { matrix[i * 3 + i] = lambda[i] }
    let z0 = [0.7, -1.1, 0.4]
    let end = 1.5
    let problem = GradientProblem(
      field: LinearTestField(matrix: matrix, dimension: 3),
      initialStates: Tensor(shape: [1, 3], scalars: z0), times: [0, end])
    let c = Array(problem.loss.weights.scalars[3..<6])
    var expected = [Double](repeating: 0, count: 9)
    for i in 0..<3 {
      for j in 0..<3 {
        let ei = Double.exp(lambda[i] * end)
        let ej = Double.exp(lambda[j] * end)
        expected[i * 3 + j] =
          i == j ? end * c[i] * z0[i] * ei : c[i] * z0[j] * (ei - ej) / (lambda[i] - lambda[j])
      }
    }
    let expectedInitial = (0..<3).map {
      c[$0] * Double.exp(lambda[$0] * end) + problem.loss.weights.scalars[$0]
    }
    let finalValue = (0..<3).map { c[$0] * lambda[$0] * z0[$0] * Double.exp(lambda[$0] * end) }
      .reduce(0, +)
    let gradients = try problem.gradients(mode: mode, tolerance: 1e-11)
    #expect(largestRelativeError(gradients.parameters.scalars, expected) < 1e-7)
    #expect(largestRelativeError(gradients.initialStates.scalars, expectedInitial) < 1e-7)
    let times = summedTimeGradients(gradients)
    #expect(largestRelativeError(times, [-finalValue, finalValue]) < 1e-7)
    #expect(gradients.statistics.allSucceeded)
  }

  /// torchdiffeq's gradient test: `dy/dt = y³ A`, `y0 = [2, 0]`, 10 output times in [0, 25].
  @Test(arguments: GradientMode.allCases)
  func cubicAgainstFiniteDifferences(mode: GradientMode) throws {
    let times = (0..<10).map { 25 * Double($0) / 9 }
    let problem = GradientProblem(
      field: CubicTestField(), initialStates: Tensor(shape: [1, 2], scalars: [2, 0]), times: times)
    let reference = try problem.finiteDifferences()
    let gradients = try problem.gradients(mode: mode, tolerance: 1e-12)
    let parameterError = largestRelativeError(gradients.parameters.scalars, reference.parameters)
    let stateError = largestRelativeError(gradients.initialStates.scalars, reference.initialStates)
    let timeError = largestRelativeError(summedTimeGradients(gradients), reference.times)
    print("cubic \(mode): parameters \(parameterError), z0 \(stateError), times \(timeError)")
    #expect(parameterError < 1e-6)
    #expect(stateError < 1e-6)
    #expect(timeError < 1e-6)
  }
}
