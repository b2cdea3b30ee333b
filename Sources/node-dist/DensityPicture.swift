import NodeBench
import NodeCore
import NodeData
import NodeTraining

/// The picture FFJORD draws of a trained toy CNF: a histogram of held-out
/// data, a histogram of samples (the base normal integrated backward) and
/// the flow's density on a grid over `[−4, 4]²`. `drawn` are samples already
/// drawn (`[N, 2]`), or nil to draw `samples` from `seed`.
enum DensityPicture {
  static func make(
    _ task: DensityTask, seed: UInt64, samples: Int = 20_000, drawn: Tensor<Float>? = nil,
    resolution: Int = 160
  ) throws -> DensityFigure {
    var figure = DensityFigure(low: -4, high: 4, resolution: resolution)
    let points = try drawn ?? task.flow.sample(count: samples, seed: seed).points
    figure.addHistogram(
      "data", points: task.points(0..<points.shape[0], seed: task.evaluationSeed &+ 1_000_003))
    figure.addHistogram("samples", points: points)
    figure.addDensity(
      "density",
      logDensities: try task.flow.logDensities(figure.cellCentres(as: Float.self)).logDensities)
    return figure
  }
}

/// The paper's figure 4 for a planar CNF fitted by density matching: the
/// target density, the flow's density and a histogram of its samples (`drawn`,
/// or `samples` drawn from `seed`), over `[−4, 4]²`.
enum PlanarPicture {
  static func make(
    _ matching: PlanarDensityMatching<Float>, seed: UInt64, samples: Int = 20_000,
    drawn: Tensor<Float>? = nil, resolution: Int = 160
  ) throws -> DensityFigure {
    var figure = DensityFigure(low: -4, high: 4, resolution: resolution)
    let grid: Tensor<Float> = figure.cellCentres()
    figure.addDensity("target", logDensities: try matching.target.logDensity(grid).scalars)
    figure.addDensity("flow", logDensities: try matching.logDensity(at: grid).values)
    figure.addHistogram(
      "samples", points: try drawn ?? matching.samples(count: samples, seed: seed).points)
    return figure
  }
}
