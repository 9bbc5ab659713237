package sfu

// DefaultKeyframeInterval is Config.KeyframeInterval's default: a viewer
// who joins waits at most half a second for the keyframe it starts at,
// and, however many join, a publisher is asked for at most two keyframes a
// second per layer.
const DefaultKeyframeInterval = keyframeInterval
