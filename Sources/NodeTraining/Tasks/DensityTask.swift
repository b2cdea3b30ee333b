import Foundation
import NodeCore
import NodeData
import NodeModels
import NodeSolvers

/// Density estimation with a continuous normalizing flow on a two-dimensional
/// toy density (FFJORD's toy experiments; W1 is `moons`): minimise the mean
/// negative log-likelihood (plus any RNODE regularisers) of training points,
/// report the held-out NLL with the exact trace.
///
/// Training point `i` is ``NodeData/ToyDensity/point(seed:index:)`` at
/// `trainingSeed`; held-out point `j` the same at `evaluationSeed` — fixed
/// sets, each point a pure function of its index.
public final class DensityTask: PointDensityTask {
  /// The flow.
  public let flow: StackedCNF<Float>
  /// The data's density.
  public let density: ToyDensity
  /// The sizes and seeds of the training and held-out sets.
  public let trainingSetSize: Int
  public let evaluationSetSize: Int
  public let trainingSeed: UInt64
  public let evaluationSeed: UInt64
  /// The RNODE regulariser weights of training.
  public let regularisers: RNODEWeights<Float>
  /// Points evaluated per solve in ``evaluate(samples:)``.
  public let evaluationBatch: Int

  /// A task; sizes ≥ 1 (the config validates them).
  public init(
    flow: StackedCNF<Float>, density: ToyDensity, trainingSetSize: Int, evaluationSetSize: Int,
    trainingSeed: UInt64, evaluationSeed: UInt64,
    regularisers: RNODEWeights<Float> = RNODEWeights(), evaluationBatch: Int = 1000
  ) {
    self.flow = flow
    self.density = density
    self.trainingSetSize = trainingSetSize
    self.evaluationSetSize = evaluationSetSize
    self.trainingSeed = trainingSeed
    self.evaluationSeed = evaluationSeed
    self.regularisers = regularisers
    self.evaluationBatch = max(1, evaluationBatch)
  }

  public var objective: TaskObjective { .density(dimension: flow.dataDimension) }
  public var dataDimension: Int { flow.dataDimension }
  public var parameterCount: Int { flow.parameterCount }
  public var parameters: [Float] {
    get { flow.parameters }
    set { flow.parameters = newValue }
  }

  /// Every block from the frameworks' default initialisation, block `k` from stream `k`.
  public func initializeParameters(seed: UInt64) {
    for (k, block) in flow.blocks.enumerated() {
      block.parameters = block.network.initialParameters(seed: seed, stream: UInt64(k))
    }
  }

  public func namedTensors(of parameters: [Float]) -> [String: Tensor<Float>] {
    flow.namedTensors(of: parameters)
  }

  public func parameters(from file: SafetensorsFile) throws -> [Float] {
    try flow.parameters(from: file)
  }

  public func apply(_ tolerances: SolveTolerances) throws {
    try flow.setTolerances(
      forward: tolerances.forward.scalars(), adjoint: tolerances.adjoint.scalars(),
      evaluation: tolerances.evaluation.scalars())
  }

  /// The points at `indices` of the toy set drawn from `seed`, `[B, 2]`.
  public func points(_ indices: some Collection<Int>, seed: UInt64) -> Tensor<Float> {
    var scalars: [Float] = []
    scalars.reserveCapacity(indices.count * 2)
    for index in indices {
      let p = density.point(seed: seed, index: index)
      scalars += [Float(p.x), Float(p.y)]
    }
    return Tensor(shape: [indices.count, 2], scalars: scalars)
  }

  public func gradient(samples: ArraySlice<Int>, noiseSeed: UInt64) throws -> ChunkGradient {
    let result = try flow.lossAndGradient(
      data: points(samples, seed: trainingSeed), noiseSeed: noiseSeed, weights: regularisers,
      sampleIdentifiers: Array(samples))
    func perSample(_ statistics: [SolveStatistics<Float>]) -> [Int] {
      (0..<samples.count).map { s in statistics.reduce(0) { $0 + $1.functionEvaluations[s] } }
    }
    let rejected = (result.forward + result.backward).reduce(0) {
      $0 + $1.rejectedSteps.reduce(0, +)
    }
    return ChunkGradient(
      loss: Double(result.loss),
      metricSum: Double(result.negativeLogLikelihood) * Double(samples.count),
      gradient: result.parameters, forwardEvaluations: perSample(result.forward),
      backwardEvaluations: perSample(result.backward), rejectedSteps: rejected)
  }

  /// Per-point `−log p(x)` of held-out points with the exact trace, at the
  /// evaluation tolerance.
  public func evaluate(samples: Range<Int>) throws -> [SampleEvaluation] {
    try negativeLogLikelihoods(of: points(samples, seed: evaluationSeed))
  }

  /// Per-point `−log p(x)` of any points `x` (`[N, D]`), with the exact trace
  /// at the evaluation tolerance, in batches of ``evaluationBatch``.
  public func negativeLogLikelihoods(of x: Tensor<Float>) throws -> [SampleEvaluation] {
    var records: [SampleEvaluation] = []
    let (n, d) = (x.shape[0], x.shape[1])
    var start = 0
    while start < n {
      let end = min(start + evaluationBatch, n)
      let batch = Tensor(
        shape: [end - start, d], scalars: Array(x.scalars[(start * d)..<(end * d)]))
      let transport = try flow.logDensities(batch)
      for row in 0..<(end - start) {
        let nfe = transport.statistics.reduce(0) { $0 + $1.functionEvaluations[row] }
        records.append(
          SampleEvaluation(
            loss: -Double(transport.logDensities[row]), correct: 0, evaluations: nfe))
      }
      start = end
    }
    return records
  }
}
