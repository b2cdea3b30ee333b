import ArgumentParser
import Foundation
import NodeCore
import NodeData
import NodeDistributed
import NodeTraining

/// `node-dist sample`: draws from a trained CNF, as CSV and a picture.
struct SampleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sample",
    abstract:
      "Draw samples from a trained CNF (checkpoint, or config + weights): CSV and a picture.",
    discussion: """
      Sample i is the standard normal latent number i of --seed integrated backward through \\
      the flow at the evaluation tolerance (or --rtol/--atol), so a sample does not depend on \\
      how many are drawn or on how many ranks draw them. Writes --output (CSV: x1,x2,log_density, \\
      one sample per line) and --picture (held-out data | samples | density over [-4, 4]²).
      """)

  @OptionGroup var source: ModelSource

  @Option(help: "Samples to draw.")
  var count = 5000

  @Option(help: "The seed of the latents.")
  var seed: UInt64 = 0

  @Option(help: "The CSV file of samples.")
  var output = "samples.csv"

  @Option(help: "The picture (PNG); 'none' to skip it.")
  var picture = "density.png"

  func validate() throws {
    try OptionBounds.check("--count", count, in: 1...10_000_000)
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    CommandFailure.onEveryRank(sample(on:))
  }

  private func sample(on communicator: any Communicator) throws {
    let outputs = [("--output", output)] + (picture == "none" ? [] : [("--picture", picture)])
    try source.checkOutputs(outputs)
    let model = try source.load()
    if let planar = model.task as? DensityMatchingTask {
      // Density matching: rank 0 draws them all (no collectives on this path).
      guard communicator.isCoordinator else { return }
      let drawn = try planar.matching.samples(count: count, seed: seed)
      var csv = "x1,x2,log_density\n"
      for s in 0..<count {
        let (x, y) = (drawn.points.scalars[2 * s], drawn.points.scalars[2 * s + 1])
        csv += String(format: "%.7g,%.7g,%.7g\n", x, y, drawn.logDensities[s])
      }
      try csv.write(toFile: output, atomically: true, encoding: .utf8)
      print("wrote \(count) samples of \(model.description) to \(output)")
      if picture != "none" {
        try PlanarPicture.make(planar.matching, seed: seed, drawn: drawn.points).image().write(
          to: URL(fileURLWithPath: picture))
        print("wrote \(picture) (target | flow | samples)")
      }
      return
    }
    guard let density = model.task as? DensityTask else {
      throw ValidationError(
        "sample draws from a flow (model.kind cnf or planar); this model"
          + " (\(model.experiment.model.kind.rawValue)) is a classifier")
    }
    let d = density.flow.dataDimension
    let ranks = communicator.size
    let mine = DistributedSampler.evaluationRange(count: count, rank: communicator.rank, of: ranks)
    let slots = (count + ranks - 1) / ranks
    let width = d + 1
    var local = [Double](repeating: 0, count: slots * width)
    let drawn = try density.flow.sample(count: mine.count, seed: seed, firstIndex: mine.lowerBound)
    for i in 0..<mine.count {
      for k in 0..<d { local[i * width + k] = Double(drawn.points.scalars[i * d + k]) }
      local[i * width + d] = Double(drawn.logDensities[i])
    }
    let all = ranks == 1 ? local : try communicator.allGather(local)
    guard communicator.isCoordinator else { return }
    var csv = (0..<d).map { "x\($0 + 1)" }.joined(separator: ",") + ",log_density\n"
    var points: [Float] = []
    for r in 0..<ranks {
      let range = DistributedSampler.evaluationRange(count: count, rank: r, of: ranks)
      for i in 0..<range.count {
        let row = all[((r * slots + i) * width)..<((r * slots + i + 1) * width)]
        csv += row.map { String(format: "%.7g", $0) }.joined(separator: ",") + "\n"
        points += row.prefix(d).map(Float.init)
      }
    }
    try csv.write(toFile: output, atomically: true, encoding: .utf8)
    print("wrote \(count) samples of \(model.description) to \(output)")
    if picture != "none" && d == 2 {
      let drawnPoints = Tensor(shape: [count, d], scalars: points)
      try DensityPicture.make(density, seed: seed, drawn: drawnPoints).image().write(
        to: URL(fileURLWithPath: picture))
      print("wrote \(picture) (data | samples | density)")
    }
  }
}
