import Foundation
import NodeCore
import NodeData
import NodeModels

/// Density matching with the paper's gated planar CNF (section 3.1, figure 4):
/// fit the flow `q` to an unnormalised target `p̃` by minimising the reverse
/// KL divergence over base draws (``PlanarDensityMatching``).
///
/// The "data" are base draws: training sample `g` is the standard normal
/// point at indices `2g, 2g + 1` of stream ``PlanarDensityMatching/trainingStreams``
/// under the training seed, held-out sample `j` the same in
/// ``evaluationStream``; the reported loss is `E[log q − log p̃]`, the KL
/// divergence minus the target's log normaliser.
public final class DensityMatchingTask: PointDensityTask {
  /// The flow, its target and its solvers.
  public let matching: PlanarDensityMatching<Float>
  /// Base draws in the training and held-out sets.
  public let trainingSetSize: Int
  public let evaluationSetSize: Int
  /// Points per solve in ``evaluate(samples:)``.
  public let evaluationBatch: Int

  /// The stream of held-out base draws.
  public static var evaluationStream: UInt64 { 3 << 32 }

  /// A task over `matching` (its seed is the draws' seed).
  public init(
    matching: PlanarDensityMatching<Float>, trainingSetSize: Int, evaluationSetSize: Int,
    evaluationBatch: Int = 1000
  ) {
    self.matching = matching
    self.trainingSetSize = trainingSetSize
    self.evaluationSetSize = evaluationSetSize
    self.evaluationBatch = max(1, evaluationBatch)
  }

  public var objective: TaskObjective { .divergence }
  public var dataDimension: Int { matching.field.dataDimension }
  public var parameterCount: Int { matching.field.parameterCount }
  public var parameters: [Float] {
    get { matching.field.parameters }
    set { matching.field.parameters = newValue }
  }

  /// The planar field's initialisation from `seed` (``PlanarCNFField/init(dataDimension:units:gateWidth:random:)``).
  public func initializeParameters(seed: UInt64) {
    let field = matching.field
    matching.field.parameters =
      PlanarCNFField<Float>(
        dataDimension: field.dataDimension, units: field.units, gateWidth: field.gateWidth,
        random: CounterRandom(seed: seed)
      ).parameters
  }

  /// The blocks' shapes: `w`, `u` `[M, D]`; `b`, `gate.output.bias` `[M]`;
  /// `gate.hidden.*` `[H]`; `gate.output.weight` `[M, H]`.
  var shapes: [[Int]] {
    let (m, d, h) = (matching.field.units, matching.field.dataDimension, matching.field.gateWidth)
    return [[m, d], [m], [m, d], [h], [h], [m, h], [m]]
  }

  public func namedTensors(of parameters: [Float]) -> [String: Tensor<Float>] {
    var result: [String: Tensor<Float>] = [:]
    for (name, (range, shape)) in zip(
      PlanarCNFField<Float>.parameterNames, zip(matching.field.parameterBlocks, shapes))
    {
      result[name] = Tensor(shape: shape, scalars: Array(parameters[range]))
    }
    return result
  }

  public func parameters(from file: SafetensorsFile) throws -> [Float] {
    let names = PlanarCNFField<Float>.parameterNames
    let extra = file.tensorNames.filter { !names.contains($0) }
    if !extra.isEmpty {
      throw SafetensorsError.unexpectedTensors(
        source: file.source, tensors: extra, expected: names.sorted())
    }
    var flat: [Float] = []
    for (name, shape) in zip(names, shapes) {
      let tensor: Tensor<Float> = try file.tensor(name, expectedShape: shape)
      flat += tensor.scalars
    }
    return flat
  }

  public func apply(_ tolerances: SolveTolerances) throws {
    try matching.setTolerances(
      forward: tolerances.forward.scalars(), adjoint: tolerances.adjoint.scalars(),
      evaluation: tolerances.evaluation.scalars())
  }

  /// The base draws of global indices `indices` in `stream`, `[B, 2]`.
  func draws(_ indices: some Collection<Int>, stream: UInt64) -> Tensor<Float> {
    let random = CounterRandom(seed: matching.seed)
    var scalars: [Float] = []
    scalars.reserveCapacity(2 * indices.count)
    for g in indices {
      scalars.append(random.normal(stream: stream, index: UInt64(2 * g)))
      scalars.append(random.normal(stream: stream, index: UInt64(2 * g + 1)))
    }
    return Tensor(shape: [indices.count, 2], scalars: scalars)
  }

  public func gradient(samples: ArraySlice<Int>, noiseSeed: UInt64) throws -> ChunkGradient {
    let result = try matching.lossAndGradient(
      basePoints: draws(samples, stream: PlanarDensityMatching<Float>.trainingStreams))
    return ChunkGradient(
      loss: result.loss, metricSum: result.loss * Double(samples.count),
      gradient: result.gradient, forwardEvaluations: result.forward.functionEvaluations,
      backwardEvaluations: result.backward.functionEvaluations,
      rejectedSteps: result.forward.rejectedSteps.reduce(0, +)
        + result.backward.rejectedSteps.reduce(0, +))
  }

  /// Per point, `−log q(x)` by integrating back to the base (``PlanarDensityMatching/logDensity(at:)``).
  public func negativeLogLikelihoods(of x: Tensor<Float>) throws -> [SampleEvaluation] {
    guard x.shape[0] > 0 else { return [] }
    let (values, statistics) = try matching.logDensity(at: x)
    return zip(values, statistics.functionEvaluations).map {
      SampleEvaluation(loss: -Double($0), correct: 0, evaluations: $1)
    }
  }

  /// Per held-out draw, `log q − log p̃` at the evaluation tolerance.
  public func evaluate(samples: Range<Int>) throws -> [SampleEvaluation] {
    var records: [SampleEvaluation] = []
    var start = samples.lowerBound
    while start < samples.upperBound {
      let indices = start..<min(start + evaluationBatch, samples.upperBound)
      let (values, statistics) = try matching.reverseKLTerms(
        basePoints: draws(indices, stream: Self.evaluationStream))
      if let failed = statistics.status.firstIndex(where: { $0 != .success }) {
        throw DensityMatchingError.solveFailed(
          "held-out draw \(indices.lowerBound + failed): \(statistics.status[failed])")
      }
      for (value, nfe) in zip(values, statistics.functionEvaluations) {
        records.append(SampleEvaluation(loss: value, correct: 0, evaluations: nfe))
      }
      start = indices.upperBound
    }
    return records
  }
}
