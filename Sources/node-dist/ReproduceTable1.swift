import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeTraining

/// `node-dist reproduce table1`: the paper's Table 1 on Fashion-MNIST.
struct ReproduceTable1: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "table1",
    abstract: "Train ODE-Net, RK-Net and ResNet on Fashion-MNIST and print Table 1.",
    discussion: """
      Each network starts from its own seeded initialisation (Kaiming-uniform convolutions and \
      linear layers, GroupNorm ones/zeros) and trains as torchdiffeq's odenet_mnist.py does: \
      batch 128 in a shuffled order, SGD lr 0.1 momentum 0.9, no augmentation, pixels in [0, 1], \
      ODE blocks solved by dopri5 at rtol = atol = 1e-3 with per-sample steps. The ODE-Net \
      differentiates its block by the adjoint, the RK-Net by backprop through the solver's \
      steps. With --model all (the default) every network trains in a process of its own, so \
      that the peak memory column is each network's own; the table follows. One thread. \
      A full-width epoch of the ODE-Net takes about half an hour on one core.
      """)

  enum Choice: String, ExpressibleByArgument, CaseIterable {
    case all, odenet, rknet, resnet
  }

  @Option(help: "The network: \(Choice.allCases.map(\.rawValue).joined(separator: ", ")).")
  var model: Choice = .all

  @Option(help: "Feature-map channels (64 in the paper).")
  var width = 64

  @Option(help: "Training epochs.")
  var epochs = 1

  @Option(help: "Seed of the initialisation and the epochs' orders.")
  var seed: UInt64 = 0

  @Option(help: "At most this many batches per epoch (default: every full batch; for quick runs).")
  var batches: Int?

  @Option(help: "At most this many test images (default: all 10000).")
  var testSamples: Int?

  @Option(help: "Print a progress line every this many batches.")
  var every = 20

  @Option(help: "The directory of the Fashion-MNIST IDX files.")
  var data: String = ImageDataset.fashionMNISTDirectory

  @Option(help: .hidden)
  var resultFile: String?

  func validate() throws {
    // The config's model.width rule for classifiers.
    let widths = ModelConfiguration.widthRange
    if !widths.contains(width) || !ModelConfiguration.isClassifierWidth(width) {
      throw ValidationError(
        "--width must be in \(widths.lowerBound) ... \(widths.upperBound), "
          + "\(ModelConfiguration.classifierWidthRule), got \(width)")
    }
    if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    if let batches, batches < 1 {
      throw ValidationError("--batches must be at least 1, got \(batches)")
    }
    if let testSamples, testSamples < 1 {
      throw ValidationError("--test-samples must be at least 1, got \(testSamples)")
    }
    if every < 1 { throw ValidationError("--every must be at least 1, got \(every)") }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    guard let chosen = Table1Model(rawValue: model.rawValue) else {
      return try runEachInItsOwnProcess()
    }
    let row = try train(chosen)
    if let resultFile {
      try (row.description + "\n").write(toFile: resultFile, atomically: true, encoding: .utf8)
    }
    print(Self.table([row]))
    print(row)
  }

  /// Trains one network, printing progress, and returns its row as a JSON line.
  func train(_ chosen: Table1Model) throws -> JSONLine {
    var experiment = Table1Experiment(model: chosen)
    experiment.width = width
    experiment.epochs = epochs
    experiment.seed = seed
    experiment.batchLimit = batches
    experiment.testLimit = testSamples
    experiment.dataDirectory = data
    print("\(chosen.displayName): width \(width), \(epochs) epoch(s), seed \(seed)")
    fflush(nil)
    let clock = ContinuousClock()
    var last = clock.now
    let result = try experiment.run { epoch, batch, count, step in
      guard (batch + 1) % every == 0 || batch + 1 == count else { return }
      let now = clock.now
      let perBatch = (now - last).seconds / Double((batch % every) + 1)
      last = now
      var line =
        "epoch \(epoch + 1) batch \(batch + 1)/\(count) loss \(String(format: "%.4f", step.loss))"
        + " acc \(String(format: "%.3f", Double(step.correct) / Double(experiment.batchSize)))"
      if let f = step.forward, let b = step.backward {
        line +=
          " NFE fwd \(String(format: "%.1f", f.meanFunctionEvaluations))"
          + " bwd \(String(format: "%.1f", b.meanFunctionEvaluations))"
      }
      print(line + " \(String(format: "%.2f", perBatch)) s/batch")
      fflush(nil)  // progress shows in a log file as it happens
    }
    for (e, epoch) in result.epochs.enumerated() {
      var line =
        "epoch \(e + 1): \(epoch.batches) batches, mean loss \(String(format: "%.4f", epoch.meanLoss)),"
        + " training accuracy \(String(format: "%.2f", 100 * epoch.trainingAccuracy)) %,"
        + " \(String(format: "%.0f", epoch.seconds)) s"
      if let f = epoch.forwardEvaluations, let b = epoch.backwardEvaluations {
        line +=
          ", NFE per sample fwd \(String(format: "%.1f", f)) (max \(epoch.maxForwardEvaluations))"
          + " bwd \(String(format: "%.1f", b)) (max \(epoch.maxBackwardEvaluations))"
      }
      print(line)
    }
    var row = JSONLine()
    row.add("experiment", "table1")
    row.add("model", chosen.rawValue)
    row.add("width", width)
    row.add("epochs", epochs)
    row.add("batches_per_epoch", result.epochs.last?.batches ?? 0)
    row.add("test_accuracy", result.test.accuracy, digits: 4)
    row.add("test_samples", result.test.samples)
    row.add("parameters", result.parameterCount)
    row.add("peak_rss_mb", ProcessMemory.peakResidentMegabytes ?? .nan, digits: 1)
    let seconds = result.epochs.map(\.seconds).reduce(0, +) / Double(result.epochs.count)
    row.add("seconds_per_epoch", seconds, digits: 1)
    row.add("nfe_forward", result.epochs.last?.forwardEvaluations ?? .nan, digits: 2)
    row.add("nfe_backward", result.epochs.last?.backwardEvaluations ?? .nan, digits: 2)
    row.add("test_nfe_mean", result.test.meanEvaluations ?? .nan, digits: 2)
    row.add("test_nfe_max", result.test.maxEvaluations)
    row.add("failed_samples", (result.epochs.last?.failedSamples ?? 0) + result.test.failedSamples)
    return row
  }

  /// Runs every network in a child process of this executable (so each
  /// peak-memory figure is its own) and prints the table.
  func runEachInItsOwnProcess() throws {
    var rows: [JSONLine] = []
    var lines: [String] = []
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "node-dist-table1-\(ProcessInfo.processInfo.processIdentifier)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for chosen in Table1Model.allCases {
      let file = directory.appendingPathComponent("\(chosen.rawValue).json").path
      var arguments = [
        "reproduce", "table1", "--model", chosen.rawValue, "--width", "\(width)",
        "--epochs", "\(epochs)", "--seed", "\(seed)", "--every", "\(every)", "--data", data,
        "--result-file", file,
      ]
      if let batches { arguments += ["--batches", "\(batches)"] }
      if let testSamples { arguments += ["--test-samples", "\(testSamples)"] }
      let child = Process()
      child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      child.arguments = arguments
      try child.run()
      child.waitUntilExit()
      guard child.terminationStatus == 0 else {
        throw ValidationError(
          "training \(chosen.displayName) failed (exit status \(child.terminationStatus))")
      }
      let line = try String(contentsOfFile: file, encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      rows.append(try JSONLine(parsing: line))
      lines.append(line)
    }
    print("\nTable 1 (Fashion-MNIST, \(epochs) epoch(s), width \(width), one thread)")
    print(Self.table(rows))
    for line in lines { print(line) }
  }

  /// The rows as a Markdown table.
  static func table(_ rows: [JSONLine]) -> String {
    var lines = [
      "| model | test accuracy | parameters | memory | peak RSS | time per epoch | NFE fwd / bwd per sample |",
      "|---|---|---|---|---|---|---|",
    ]
    for row in rows {
      let model = Table1Model(rawValue: row.string("model") ?? "")
      let nfe =
        row.number("nfe_forward").map {
          String(format: "%.1f / %.1f", $0, row.number("nfe_backward") ?? .nan)
        } ?? "—"
      lines.append(
        "| \(model?.displayName ?? "?") | "
          + String(format: "%.2f %%", 100 * (row.number("test_accuracy") ?? .nan))
          + " | \(Int(row.number("parameters") ?? 0)) | \(model?.memoryOrder ?? "?") | "
          + String(format: "%.0f MB", row.number("peak_rss_mb") ?? .nan) + " | "
          + String(format: "%.0f s", row.number("seconds_per_epoch") ?? .nan) + " | \(nfe) |")
    }
    return lines.joined(separator: "\n")
  }
}
