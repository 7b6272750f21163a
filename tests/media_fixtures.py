"""Media fixtures (generated video, nginx-rtmp, file-PCM microphone): owned by the capture work."""
