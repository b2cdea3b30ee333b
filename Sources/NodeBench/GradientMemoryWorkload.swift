import Foundation
import NodeCore
import NodeSensitivity
import NodeSolvers

/// One gradient computation on the W3 problem, to show how each gradient
/// mode's memory grows with the number of steps (the paper's O(1)-memory
/// claim for the adjoint): the W3 field (2 → 64 → 64 → 2, tanh) as a
/// differentiable ``MLPField``, the loss `½ Σ_s ‖z_s(t₁)‖²`, dopri5 at one
/// tolerance forward and backward.
public struct GradientMemoryWorkload {
  /// The field, with the W3 weights.
  public let field: MLPField<Float>
  /// The initial states, `[B, 2]`.
  public let initialStates: Tensor<Float>

  /// Loads the W3 problem (`layers.{0,1,2}.{weight,bias}`, `y0`), keeping the first `samples` states.
  public init(problem url: URL, samples: Int? = nil) throws {
    let file = try SafetensorsFile(contentsOf: url)
    var flat: [Float] = []
    var widths = [2]
    for layer in 0..<3 {
      let weight: Tensor<Float> = try file.tensor("layers.\(layer).weight")
      let bias: Tensor<Float> = try file.tensor(
        "layers.\(layer).bias", expectedShape: [weight.shape[0]])
      flat += weight.scalars + bias.scalars
      widths.append(weight.shape[0])
    }
    field = MLPField(widths: widths, activation: .tanh, timeInput: false, parameters: flat)
    let all: Tensor<Float> = try file.tensor("y0")
    let count = Swift.min(samples ?? all.shape[0], all.shape[0])
    initialStates = Tensor(shape: [count, 2], scalars: Array(all.scalars[0..<(count * 2)]))
  }

  /// The figures of one gradient computation.
  public struct Measurement {
    /// Mean forward NFE per sample.
    public let forwardEvaluations: Double
    /// Mean backward NFE per sample.
    public let backwardEvaluations: Double
    /// Wall time of the forward and backward pass, in milliseconds.
    public let milliseconds: Double
    /// Scalars the forward pass kept for the backward pass.
    public let storedTrajectoryScalars: Int
    /// Whether every sample succeeded forward and backward.
    public let allSucceeded: Bool
  }

  /// Runs one forward and backward pass in `mode` at `rtol = atol = tolerance`,
  /// from t = 0 to `endTime`.
  public func measure(mode: GradientMode, tolerance: Float, endTime: Float = 1) throws
    -> Measurement
  {
    let controller = StepSizeController<Float>.adaptive(
      PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance))
    let solver = try ODEGradientSolver(
      mode: mode, method: .dormandPrince, forward: controller, maxSteps: 100_000)
    let clock = ContinuousClock()
    var pass: ForwardPass<Float>?
    var gradients: ODEGradients<Float>?
    let elapsed = try clock.measure {
      let forward = try solver.forward(
        field, initialStates: initialStates, times: .shared([0, endTime]))
      // dL/dz(t₁) = z(t₁), nothing at t = 0.
      let b = initialStates.shape[0]
      var cotangents = [Float](repeating: 0, count: b * 2 * 2)
      for s in 0..<b {
        for i in 0..<2 {
          cotangents[(s * 2 + 1) * 2 + i] = forward.solution.finalStates.scalars[s * 2 + i]
        }
      }
      gradients = try solver.backward(
        forward, outputCotangents: Tensor(shape: [b, 2, 2], scalars: cotangents))
      pass = forward
    }
    return Measurement(
      forwardEvaluations: pass!.solution.statistics.meanFunctionEvaluations,
      backwardEvaluations: gradients!.statistics.meanFunctionEvaluations,
      milliseconds: Double(elapsed.components.seconds) * 1e3
        + Double(elapsed.components.attoseconds) * 1e-15,
      storedTrajectoryScalars: pass!.storedTrajectoryScalars,
      allSucceeded: pass!.solution.statistics.allSucceeded && gradients!.statistics.allSucceeded)
  }
}
