"""Where granules come from: NASA Earthdata (`earthdata`) or the offline twin (`sample`)."""
