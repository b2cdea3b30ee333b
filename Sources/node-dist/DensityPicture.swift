import NodeBench
import NodeCore
import NodeData
import NodeTraining

/// The picture FFJORD draws of a trained toy CNF: a histogram of held-out
/// data, a histogram of samples (the base normal integrated backward) and
/// the flow's density on a grid over `[−4, 4]²`.
enum DensityPicture {
  static func make(
    _ task: DensityTask, seed: UInt64, samples: Int = 20_000, resolution: Int = 160
  ) throws -> DensityFigure {
    var figure = DensityFigure(low: -4, high: 4, resolution: resolution)
    figure.addHistogram(
      "data", points: task.points(0..<samples, seed: task.evaluationSeed &+ 1_000_003))
    figure.addHistogram("samples", points: try task.flow.sample(count: samples, seed: seed).points)
    figure.addDensity(
      "density",
      logDensities: try task.flow.logDensities(figure.cellCentres(as: Float.self)).logDensities)
    return figure
  }
}

/// The paper's figure 4 for a planar CNF fitted by density matching: the
/// target density, the flow's density and a histogram of its samples, over `[−4, 4]²`.
enum PlanarPicture {
  static func make(
    _ matching: PlanarDensityMatching<Float>, seed: UInt64, samples: Int = 20_000,
    resolution: Int = 160
  ) throws -> DensityFigure {
    var figure = DensityFigure(low: -4, high: 4, resolution: resolution)
    let grid: Tensor<Float> = figure.cellCentres()
    figure.addDensity("target", logDensities: try matching.target.logDensity(grid).scalars)
    figure.addDensity("flow", logDensities: try matching.logDensity(at: grid).values)
    figure.addHistogram("samples", points: try matching.samples(count: samples, seed: seed).points)
    return figure
  }
}
