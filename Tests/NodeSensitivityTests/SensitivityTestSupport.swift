import NodeCore
import NodeSolvers

@testable import NodeSensitivity

/// `dz/dt = A z` with the matrix `A` (row-major, `D × D`) as parameters.
final class LinearTestField: DifferentiableVectorField {
  typealias Scalar = Double
  let dimension: Int
  var parameters: [Double]
  var parameterCount: Int { parameters.count }

  init(matrix: [Double], dimension: Int) {
    self.dimension = dimension
    parameters = matrix
  }

  func evaluate(_ batch: FieldBatch<Double>, into out: MutableMatrixView<Double>) {
    for r in 0..<batch.count {
      let z = batch.states.row(r)
      for i in 0..<dimension {
        var sum = 0.0
        for j in 0..<dimension { sum += parameters[i * dimension + j] * z[j] }
        out.row(r)[i] = sum
      }
    }
  }

  func vectorJacobianProduct(
    _ batch: FieldBatch<Double>, cotangents: MatrixView<Double>,
    stateCotangents: MutableMatrixView<Double>?, derivatives: MutableMatrixView<Double>?,
    timeCotangents: UnsafeMutablePointer<Double>?, parameterGradient: ParameterGradientSink<Double>?
  ) {
    if let derivatives { evaluate(batch, into: derivatives) }
    for r in 0..<batch.count {
      let z = batch.states.row(r)
      let a = cotangents.row(r)
      if let stateCotangents {
        for j in 0..<dimension {
          var sum = 0.0
          for i in 0..<dimension { sum += a[i] * parameters[i * dimension + j] }
          stateCotangents.row(r)[j] = sum
        }
      }
      timeCotangents?[r] = 0
      if let sink = parameterGradient {
        let w = sink.rowWeights?[r] ?? 1
        for i in 0..<dimension {
          for j in 0..<dimension { sink.gradient[i * dimension + j] += w * a[i] * z[j] }
        }
      }
    }
  }
}

/// torchdiffeq's gradient-test problem `dy/dt = (y³) A`: `f_k = Σ_i y_i³ A_ik`,
/// with `A` (2 × 2, row-major) as parameters.
final class CubicTestField: DifferentiableVectorField {
  typealias Scalar = Double
  let dimension = 2
  var parameters: [Double]
  var parameterCount: Int { 4 }

  init(matrix: [Double] = [-0.1, 2, -2, -0.1]) { parameters = matrix }

  func evaluate(_ batch: FieldBatch<Double>, into out: MutableMatrixView<Double>) {
    for r in 0..<batch.count {
      let y = batch.states.row(r)
      let cubes = (y[0] * y[0] * y[0], y[1] * y[1] * y[1])
      for k in 0..<2 {
        out.row(r)[k] = cubes.0 * parameters[k] + cubes.1 * parameters[2 + k]
      }
    }
  }

  func vectorJacobianProduct(
    _ batch: FieldBatch<Double>, cotangents: MatrixView<Double>,
    stateCotangents: MutableMatrixView<Double>?, derivatives: MutableMatrixView<Double>?,
    timeCotangents: UnsafeMutablePointer<Double>?, parameterGradient: ParameterGradientSink<Double>?
  ) {
    if let derivatives { evaluate(batch, into: derivatives) }
    for r in 0..<batch.count {
      let y = batch.states.row(r)
      let a = cotangents.row(r)
      if let stateCotangents {
        for i in 0..<2 {
          let aA = a[0] * parameters[i * 2] + a[1] * parameters[i * 2 + 1]
          stateCotangents.row(r)[i] = 3 * y[i] * y[i] * aA
        }
      }
      timeCotangents?[r] = 0
      if let sink = parameterGradient {
        let w = sink.rowWeights?[r] ?? 1
        for i in 0..<2 {
          for k in 0..<2 { sink.gradient[i * 2 + k] += w * a[k] * y[i] * y[i] * y[i] }
        }
      }
    }
  }
}

/// A loss `L = Σ_{s,i,d} c_{s,i,d} z_s(t_i)_d` with fixed weights: its output
/// cotangents are the weights themselves.
struct LinearLoss {
  let weights: Tensor<Double>

  init(weights: Tensor<Double>) { self.weights = weights }

  init(batch: Int, times: Int, dimension: Int, seed: UInt64) {
    let random = CounterRandom(seed: seed)
    weights = Tensor(
      shape: [batch, times, dimension],
      scalars: (0..<(batch * times * dimension)).map {
        random.normal(stream: 9, index: UInt64($0), as: Double.self)
      })
  }

  func value(_ states: Tensor<Double>) -> Double {
    zip(states.scalars, weights.scalars).reduce(0) { $0 + $1.0 * $1.1 }
  }
}

/// A gradient problem: a field, initial states, a grid and a loss; finite
/// differences of the loss through tight forward solves.
struct GradientProblem<Field: DifferentiableVectorField> where Field.Scalar == Double {
  let field: Field
  var initialStates: Tensor<Double>
  var times: [Double]
  let loss: LinearLoss

  init(field: Field, initialStates: Tensor<Double>, times: [Double], seed: UInt64 = 1) {
    self.init(
      field: field, initialStates: initialStates, times: times,
      loss: LinearLoss(
        batch: initialStates.shape[0], times: times.count, dimension: field.dimension, seed: seed))
  }

  init(field: Field, initialStates: Tensor<Double>, times: [Double], loss: LinearLoss) {
    self.field = field
    self.initialStates = initialStates
    self.times = times
    self.loss = loss
  }

  /// The gradients of the loss by `mode` at tolerance `tolerance`.
  func gradients(
    mode: GradientMode, tolerance: Double, method: ButcherTableau = .dormandPrince,
    norm: AdjointNorm = .seminorm, scope: ErrorControlScope = .perSample,
    firstStep: AdjointFirstStep = .select
  ) throws -> ODEGradients<Double> {
    var pi = PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)
    pi.scope = scope
    let controller = StepSizeController<Double>.adaptive(pi)
    let solver = try ODEGradientSolver(
      mode: mode, method: method, forward: controller, adjointNorm: norm,
      adjointFirstStep: firstStep, maxSteps: 100_000)
    let pass = try solver.forward(field, initialStates: initialStates, times: .shared(times))
    return try solver.backward(pass, outputCotangents: loss.weights, timeGradients: true)
  }

  /// The loss after a tight solve.
  func lossValue(tolerance: Double) throws -> Double {
    let integrator = try ODEIntegrator<Double>(
      method: .dormandPrince853,
      controller: .adaptive(
        PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)),
      maxSteps: 1_000_000)
    let solution = try integrator.solve(field, initialStates: initialStates, times: .shared(times))
    return loss.value(solution.states)
  }

  /// Fourth-order central differences of the loss,
  /// `(−L(2ε) + 8 L(ε) − 8 L(−ε) + L(−2ε)) / 12ε`, with respect to every
  /// parameter, every initial-state element and every output time.
  func finiteDifferences(
    step: Double = 1e-4, tolerance: Double = 1e-13, includingTimes: Bool = true
  ) throws -> (
    parameters: [Double], initialStates: [Double], times: [Double]
  ) {
    func derivative(_ perturb: (inout GradientProblem, Double) -> Void) throws -> Double {
      var values: [Double] = []
      for multiple in [2.0, 1, -1, -2] {
        var problem = self
        perturb(&problem, multiple * step)
        values.append(try problem.lossValue(tolerance: tolerance))
      }
      return (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * step)
    }
    let original = field.parameters
    var parameterGradient: [Double] = []
    for p in 0..<field.parameterCount {
      parameterGradient.append(
        try derivative { problem, h in
          var values = original
          values[p] += h
          problem.field.parameters = values
        })
    }
    field.parameters = original
    var stateGradient: [Double] = []
    for i in 0..<initialStates.count {
      stateGradient.append(
        try derivative { problem, h in
          var scalars = problem.initialStates.scalars
          scalars[i] += h
          problem.initialStates = Tensor(shape: problem.initialStates.shape, scalars: scalars)
        })
    }
    var timeGradient: [Double] = []
    for j in 0..<(includingTimes ? times.count : 0) {
      timeGradient.append(try derivative { problem, h in problem.times[j] += h })
    }
    return (parameterGradient, stateGradient, timeGradient)
  }
}

/// The largest relative difference `|x − y| / max(|y|, floor)`.
func largestRelativeError(_ x: [Double], _ y: [Double], floor: Double = 1e-3) -> Double {
  precondition(x.count == y.count)
  return zip(x, y).map { abs($0 - $1) / max(abs($1), floor) }.max() ?? 0
}

/// The relative distance `‖x − y‖ / ‖y‖`.
func relativeDistance(_ x: [Double], _ y: [Double]) -> Double {
  let difference = zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
  return (difference / y.reduce(0) { $0 + $1 * $1 }).squareRoot()
}

/// Per-output-time gradients summed over samples (a shared grid's gradient).
func summedTimeGradients(_ gradients: ODEGradients<Double>) -> [Double] {
  let times = gradients.times!
  let (b, t) = (times.shape[0], times.shape[1])
  return (0..<t).map { j in (0..<b).reduce(0) { $0 + times.scalars[$1 * t + j] } }
}
