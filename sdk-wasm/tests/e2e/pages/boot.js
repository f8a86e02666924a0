import * as pulse from '/sdk/pulse.js';
window.pulse = pulse;
window.pulseErrors = [];
window.pulseReady = true;
