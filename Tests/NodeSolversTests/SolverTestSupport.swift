import Foundation
import NodeCore
import NodeSolvers

/// The largest absolute difference between a solution and the exact states
/// at every output time, over every sample.
func maxError<Field: KnownSolutionField>(
  _ solution: ODESolution<Field.Scalar>, field: Field, initial: Tensor<Field.Scalar>,
  times: [Field.Scalar], outputIndices: Range<Int>? = nil
) -> Double {
  var worst = 0.0
  let batch = initial.shape[0]
  for s in 0..<batch {
    let y0 = Array(initial.row(s))
    for j in outputIndices ?? 0..<times.count {
      let exact = field.exactState(sample: s, initial: y0, initialTime: times[0], time: times[j])
      for (a, b) in zip(solution.state(sample: s, time: j), exact) {
        worst = max(worst, Double(abs(a - b)))
      }
    }
  }
  return worst
}

/// A constant-step integrator, for convergence-order checks.
func constantStepIntegrator(_ method: ButcherTableau, step: Double) throws -> ODEIntegrator<Double>
{
  try ODEIntegrator(method: method, controller: .constant(stepSize: step), maxSteps: 1_000_000)
}

/// An adaptive integrator with `rtol = atol = tolerance`.
func adaptiveIntegrator<Scalar: TensorScalar>(
  _ method: ButcherTableau = .dormandPrince, tolerance: Scalar,
  scope: ErrorControlScope = .perSample, maxSteps: Int = 100_000,
  configure: (inout PIController<Scalar>) -> Void = { _ in }
) throws -> ODEIntegrator<Scalar> {
  var pi = PIController<Scalar>(relativeTolerance: tolerance, absoluteTolerance: tolerance)
  pi.scope = scope
  configure(&pi)
  return try ODEIntegrator(method: method, controller: .adaptive(pi), maxSteps: maxSteps)
}

/// Unit-circle initial states `[cos φ_s, sin φ_s]` for `count` samples.
func circleStates(_ count: Int) -> Tensor<Double> {
  Tensor(
    shape: [count, 2],
    scalars: (0..<count).flatMap { s -> [Double] in
      let phi = 0.3 + Double(s) * 0.7
      return [cos(phi), sin(phi)]
    })
}

/// The base-2 logarithm of the ratio of successive errors: the observed order
/// of convergence when the step is halved each time.
func observedOrders(_ errors: [Double]) -> [Double] {
  zip(errors, errors.dropFirst()).map { log2($0 / $1) }
}

/// A field that evaluates a closure for each row; for tests of odd behaviour.
final class ClosureField: VectorField {
  typealias Scalar = Double
  let dimension: Int
  let body:
    (_ sample: Int, _ t: Double, _ y: UnsafePointer<Double>, _ f: UnsafeMutablePointer<Double>) ->
      Void

  init(
    dimension: Int,
    _ body: @escaping (Int, Double, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void
  ) {
    self.dimension = dimension
    self.body = body
  }

  func evaluate(_ batch: FieldBatch<Double>, into out: MutableMatrixView<Double>) {
    for r in 0..<batch.count {
      body(batch.sampleIndices[r], batch.times[r], batch.states.row(r), out.row(r))
    }
  }
}
