import NodeBench
import NodeCore
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
