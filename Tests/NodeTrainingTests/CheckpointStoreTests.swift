import Foundation
import NodeCore
import Testing

@testable import NodeTraining

/// Runs `body` with a fresh, uniquely named directory that is removed afterwards.
private func withScratchDirectory(_ body: (URL) throws -> Void) throws {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "CheckpointStoreTests-\(UUID().uuidString)", isDirectory: true)
  defer { try? FileManager.default.removeItem(at: url) }
  try body(url)
}

/// Two small named tensors whose values depend on `seed`, with awkward bit patterns.
private func sampleWeights(_ seed: Float) -> [String: Tensor<Float>] {
  [
    "layers.0.weight": Tensor(
      shape: [2, 3], scalars: [seed, -0.0, .nan, .leastNonzeroMagnitude, .infinity, 1e-30]),
    "layers.0.bias": Tensor(shape: [3], scalars: [seed + 1, -seed, 0.1]),
  ]
}

/// A JSON training state naming `step`.
private func sampleState(_ step: Int) -> Data {
  Data(#"{"step": \#(step), "optimizer": "adam", "learningRate": 0.001}"#.utf8)
}

/// The directory names under `store`, in order.
private func names(_ store: CheckpointStore) throws -> [String] {
  try store.checkpoints().map(\.lastPathComponent)
}

@Suite struct CheckpointStoreTests {
  /// Weights come back bit for bit, with the state, step and metadata.
  @Test func roundTripsWeightsStateAndStep() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir.appendingPathComponent("ckpt"), keep: 3)
      let weights = sampleWeights(2.5)
      let url = try store.save(
        step: 120, weights: weights, metadata: ["model": "cnf"], state: sampleState(120))
      #expect(url.lastPathComponent == "step-00000120")
      let loaded = try CheckpointStore.load(url)
      #expect(loaded.step == 120 && loaded.state == sampleState(120))
      #expect(loaded.metadata == ["model": "cnf"])
      #expect(loaded.weights.tensorNames == weights.keys.sorted())
      for (name, tensor) in weights {
        let back: Tensor<Float> = try loaded.weights.tensor(name)
        #expect(back.shape == tensor.shape)
        #expect(back.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern))
      }
      let manifest =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: url.appendingPathComponent("manifest.json"))) as? [String: Any]
      #expect(manifest?["format"] as? String == "node-dist-checkpoint")
      #expect(manifest?["version"] as? Int == 1 && manifest?["step"] as? Int == 120)
    }
  }

  /// Saving five checkpoints with `keep: 2` leaves the two newest.
  @Test func prunesToTheNewestK() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 2)
      for step in stride(from: 10, through: 50, by: 10) {
        try store.save(step: step, weights: sampleWeights(Float(step)), state: sampleState(step))
      }
      #expect(try names(store) == ["step-00000040", "step-00000050"])
    }
  }

  /// A truncated weights file is skipped with a reason and the previous checkpoint used.
  @Test func skipsATruncatedCheckpoint() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 3)
      try store.save(step: 1, weights: sampleWeights(1), state: sampleState(1))
      let newest = try store.save(step: 2, weights: sampleWeights(2), state: sampleState(2))
      let weightsURL = newest.appendingPathComponent("weights.safetensors")
      let handle = try FileHandle(forWritingTo: weightsURL)
      try handle.truncate(atOffset: 20)
      try handle.close()
      let (checkpoint, skipped) = try store.newestValid()
      #expect(checkpoint?.step == 1)
      #expect(skipped.count == 1 && skipped.first?.url == newest)
      let reason = skipped.first?.reason ?? ""
      #expect(reason.contains("truncated") && reason.contains("20 bytes"), "\(reason)")
    }
  }

  /// One flipped byte in `state.json` fails the CRC32 check.
  @Test func detectsAFlippedStateByte() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 1)
      let url = try store.save(step: 7, weights: sampleWeights(7), state: sampleState(7))
      let stateURL = url.appendingPathComponent("state.json")
      var bytes = try Data(contentsOf: stateURL)
      bytes[3] ^= 0x01
      try bytes.write(to: stateURL)
      #expect {
        try CheckpointStore.load(url)
      } throws: { error in
        guard case .checksumMismatch(let path, _, _) = error as? CheckpointError else {
          return false
        }
        return path == stateURL.path && "\(error)".contains("checksum mismatch")
      }
      let (checkpoint, skipped) = try store.newestValid()
      #expect(checkpoint == nil && skipped.count == 1)
    }
  }

  /// A checkpoint directory without a manifest (a crash, simulated) is skipped.
  @Test func skipsACheckpointWithoutManifest() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 3)
      try store.save(step: 5, weights: sampleWeights(5), state: sampleState(5))
      let crashed = try store.save(step: 6, weights: sampleWeights(6), state: sampleState(6))
      try FileManager.default.removeItem(at: crashed.appendingPathComponent("manifest.json"))
      let (checkpoint, skipped) = try store.newestValid()
      #expect(checkpoint?.step == 5 && checkpoint?.state == sampleState(5))
      #expect(skipped.map(\.url) == [crashed])
      #expect(skipped.first?.reason.contains("no manifest") == true)
    }
  }

  /// A stale temporary directory is not listed, and the next save removes it.
  @Test func ignoresAndCleansStaleTemporaryDirectories() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 2)
      let stale = dir.appendingPathComponent(".tmp-step-00000009-999-dead", isDirectory: true)
      try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: false)
      try Data("partial".utf8).write(to: stale.appendingPathComponent("weights.safetensors"))
      try Data("unrelated".utf8).write(to: dir.appendingPathComponent("notes.txt"))
      #expect(try store.checkpoints().isEmpty)
      try store.save(step: 10, weights: sampleWeights(10), state: sampleState(10))
      #expect(!FileManager.default.fileExists(atPath: stale.path))
      let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
      #expect(left == ["notes.txt", "step-00000010"])
    }
  }

  /// Saving a step again replaces its checkpoint whole.
  @Test func overwritesTheSameStep() throws {
    try withScratchDirectory { dir in
      let store = try CheckpointStore(directory: dir, keep: 2)
      try store.save(step: 3, weights: sampleWeights(1), state: Data("{\"v\": 1}".utf8))
      let url = try store.save(step: 3, weights: sampleWeights(9), state: Data("{\"v\": 2}".utf8))
      #expect(try names(store) == ["step-00000003"])
      let loaded = try CheckpointStore.load(url)
      #expect(loaded.state == Data("{\"v\": 2}".utf8))
      let bias: Tensor<Float> = try loaded.weights.tensor("layers.0.bias")
      #expect(bias.scalars == [10, -9, 0.1])
      let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
      #expect(left == ["step-00000003"])
    }
  }

  /// `keep: 0` is refused with an error naming the value.
  @Test func rejectsKeepZero() throws {
    try withScratchDirectory { dir in
      #expect(throws: CheckpointError.invalidKeep(0)) {
        try CheckpointStore(directory: dir, keep: 0)
      }
      #expect(CheckpointError.invalidKeep(0).description.contains("keep = 0"))
    }
  }

  /// Loading a path that does not exist names the path.
  @Test func loadingAMissingPathIsAClearError() throws {
    try withScratchDirectory { dir in
      let missing = dir.appendingPathComponent("step-00000042")
      #expect(throws: CheckpointError.notFound(path: missing.path)) {
        try CheckpointStore.load(missing)
      }
      #expect(CheckpointError.notFound(path: missing.path).description.contains(missing.path))
    }
  }
}
