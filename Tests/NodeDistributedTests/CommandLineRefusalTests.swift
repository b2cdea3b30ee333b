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
}
