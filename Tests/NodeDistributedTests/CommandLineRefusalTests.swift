import Foundation
import NodeCore
import Testing

/// The built tool refuses files of the wrong kind with an error that names
/// the file and what was wrong, and a failing exit status — never a crash.
@Suite struct CommandLineRefusalTests {
  /// Runs the tool alone and checks it failed cleanly; returns its output.
  func refusal(_ arguments: [String]) throws -> String {
    let (status, output) = try MPIIntegrationTests.run(MPIIntegrationTests.tool!, arguments)
    #expect(status == 1, "exit status \(status): \(output)")
    #expect(!output.contains("Backtrac") && !output.contains("Fatal error"), "\(output)")
    return output
  }

  /// A W3 problem file whose layers make a field from R^2 to R^64.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func benchRefusesAProblemWhoseFieldDoesNotMapBack() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("w3-unchained-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    var tensors: [String: Tensor<Float>] = ["y0": Tensor(shape: [4, 2])]
    for (i, shape) in [[64, 2], [64, 64], [64, 64]].enumerated() {
      tensors["layers.\(i).weight"] = Tensor(shape: shape)
      tensors["layers.\(i).bias"] = Tensor(shape: [shape[0]])
    }
    try SafetensorsWriter.write(tensors, to: url)
    let output = try refusal(["bench", "w3", "--weights", url.path, "--iters", "1"])
    #expect(output.contains("tensor 'layers.2.weight' has shape [64, 64], expected [2, 64]"))
  }

  /// `--checkpoint` given a plain file: it is not a checkpoint, and nothing is created.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func evalRefusesAFileAsCheckpoint() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("not-a-checkpoint-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafetensorsWriter.write(["x": Tensor<Float>(shape: [1])], to: url)
    let before = try Data(contentsOf: url)
    let output = try refusal(["eval", "--checkpoint", url.path])
    #expect(output.contains("--checkpoint \(url.path): not a directory"), "\(output)")
    #expect(try Data(contentsOf: url) == before)
  }

  /// `--checkpoint` given a directory with no checkpoint in it.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func evalRefusesADirectoryWithoutCheckpoints() throws {
    let url = try makeTemporaryDirectory("no-checkpoints")
    defer { try? FileManager.default.removeItem(at: url) }
    let output = try refusal(["eval", "--checkpoint", url.path])
    #expect(output.contains("--checkpoint \(url.path): holds no checkpoint"), "\(output)")
  }
}

/// Sizes a command would try to allocate, and thread counts it would start,
/// are bounded before any work: a clear refusal, not an allocation failure.
@Suite struct CommandLineBoundTests {
  @Test(
    .enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"),
    arguments: [
      (["demo", "--samples", "99999999999999"], "--samples must be in 1 ... 1000000"),
      (["bench", "w3", "--threads", "100000"], "--threads must be in 1 ... 1024"),
      (["reproduce", "planar", "--units", "99999999999"], "--units must be in 1 ... 100000"),
      (["reproduce", "planar", "--batch", "99999999999"], "--batch must be in 1 ... 1000000"),
      (["reproduce", "moons", "--held-out", "99999999999999"], "--held-out must be in"),
      (["reproduce", "moons", "--picture-samples", "99999999999999"], "--picture-samples must be"),
      (["reproduce", "table1", "--width", "33"], "at most 32 or a multiple of 32"),
      (["sample", "--checkpoint", "/nonexistent", "--count", "99999999999999"], "--count must be"),
      (
        ["train", "--config", "/nonexistent.yaml", "--run-dir", ""],
        "--run-dir must name a directory"
      ),
      (
        ["trian", "--config", "x.yaml"],
        "unknown command 'trian' for 'node-dist' — did you mean 'train'?"
      ),
      (["reproduce", "plnar"], "unknown command 'plnar' for 'node-dist reproduce' — did you mean"),
      (["sample", "--checkpoint", "/nonexistent", "--count", "-1"], "--count must be in 1 ..."),
      (["eval", "--checkpoint", "/nonexistent", "--rtol", "-1e-3"], "--rtol must be in"),
      (["reproduce", "moons", "--output", "/dev/null"], "is a file, not a directory"),
      (["reproduce", "planar", "--output", "/dev/null"], "is a file, not a directory"),
      (["train", "--config", "/nonexistent.yaml", "--run-dir", "/dev/null"], "is a file, not"),
      (["reproduce", "xyz"], "'node-dist reproduce'. The commands are: table1, moons, planar."),
    ])
  func refusesBeforeAnyWork(arguments: [String], message: String) throws {
    let (status, output) = try MPIIntegrationTests.run(MPIIntegrationTests.tool!, arguments)
    #expect(status != 0 && output.contains(message), "exit \(status): \(output)")
    #expect(!output.contains("Backtrac") && !output.contains("Fatal error"), "\(output)")
  }

  /// Outputs that would overwrite an input or each other are refused, and the input stays.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func outputsNeverOverwriteInputs() throws {
    let directory = try makeTemporaryDirectory("node-dist-outputs")
    defer { try? FileManager.default.removeItem(at: directory) }
    let points = directory.appendingPathComponent("points.csv")
    try "1,2\n3,4\n".write(to: points, atomically: true, encoding: .utf8)
    let config = TrainingIntegrationTests.configs.appendingPathComponent("cnf-moons.yaml").path
    let weights = directory.appendingPathComponent("weights.safetensors").path
    let cases: [([String], String)] = [
      (
        [
          "eval", "--config", config, "--weights", weights, "--points", points.path, "--output",
          points.path,
        ],
        "would overwrite --points"
      ),
      (
        [
          "sample", "--config", config, "--weights", weights, "--output", "x.png", "--picture",
          "./x.png",
        ],
        "are the same file"
      ),
      (
        ["sample", "--config", config, "--weights", weights, "--output", config],
        "would overwrite --config"
      ),
      (
        ["sample", "--config", config, "--weights", weights, "--output", directory.path],
        "is a directory; give a file name"
      ),
      (
        ["sample", "--config", config, "--weights", weights, "--output", "/nonexistent/s.csv"],
        "the directory /nonexistent does not exist"
      ),
    ]
    for (arguments, message) in cases {
      let (status, output) = try MPIIntegrationTests.run(MPIIntegrationTests.tool!, arguments)
      #expect(status != 0 && output.contains(message), "exit \(status): \(output)")
    }
    #expect(try String(contentsOf: points, encoding: .utf8) == "1,2\n3,4\n")
  }
}

/// What a command does not read, it does not check.
@Suite struct CommandLineUnreadInputTests {
  /// `sample --config X --weights W` reads W, not X's `model.weights` (the
  /// initial weights of a training), which may no longer exist.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func sampleIgnoresTheConfigsInitialWeights() throws {
    let directory = try makeTemporaryDirectory("node-dist-unread")
    defer { try? FileManager.default.removeItem(at: directory) }
    let weights = directory.appendingPathComponent("w1.safetensors").path
    let (saved, log) = try MPIIntegrationTests.run(
      MPIIntegrationTests.tool!,
      ["bench", "w1", "--iters", "1", "--warmup", "0", "--save", weights])
    #expect(saved == 0, "\(log)")
    let config = TrainingIntegrationTests.configs.appendingPathComponent("cnf-moons.yaml").path
    let samples = directory.appendingPathComponent("samples.csv")
    let (status, output) = try MPIIntegrationTests.run(
      MPIIntegrationTests.tool!,
      [
        "sample", "--config", config, "--set", "model.weights=/nonexistent/init.safetensors",
        "--weights", weights, "--count", "3", "--output", samples.path, "--picture", "none",
      ])
    #expect(status == 0, "\(output)")
    let rows = try String(contentsOf: samples, encoding: .utf8).split(separator: "\n")
    #expect(rows.count == 4 && rows[0] == "x1,x2,log_density", "\(rows)")
  }
}

/// Options the chosen command would silently ignore are refused.
@Suite struct CommandLineIgnoredOptionTests {
  @Test(
    .enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"),
    arguments: [
      (["bench", "w3", "--save", "x.safetensors"], "--save is for w1 only"),
      (["bench", "w2", "--gradient", "backprop"], "--gradient is for w1 only"),
      (
        ["bench", "w3", "--adjoint-first-step", "continue"], "--adjoint-first-step is for w1 and w2"
      ),
      (["bench", "w1", "--shared-step"], "--shared-step is for w3 only"),
      (
        ["eval", "w1", "--weights", "w.safetensors", "--rtol", "1e-2"], "eval w1 takes --tolerance"
      ),
      (
        [
          "train", "--config",
          TrainingIntegrationTests.configs.appendingPathComponent("cnf-moons.yaml").path, "--set",
          "model.width=",
        ], "the value after '=' is empty"
      ),
    ])
  func refused(arguments: [String], message: String) throws {
    let (status, output) = try MPIIntegrationTests.run(MPIIntegrationTests.tool!, arguments)
    #expect(status != 0 && output.contains(message), "exit \(status): \(output)")
  }
}

/// A new empty directory under the system's temporary directory; the caller removes it.
func makeTemporaryDirectory(_ prefix: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}
