"""The `asr serve` page in headless Chromium with a fake microphone playing a generated recording.

Needs Debian's chromium and chromium-driver (`make test` installs them); skipped, saying so, where they are
absent. Chromium is started with no network features (the closed network would otherwise flood it with refused
connections) and an empty profile.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
from live_helpers import running_server

from asr.audio import load_audio
from asr.inference import Transcriber
from asr.streaming import StreamingRecognizer

SENTENCE = "she didn't get his name when they met the first time"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)")]

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=900,640",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def browser(tmp_path, audio_file):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                 f"--use-file-for-fake-audio-capture={audio_file}"]:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def looped_microphone(path, samples: np.ndarray):
    """A WAV for Chromium's fake microphone, which plays it in a loop: a second of silence on each side makes every
    pass its own segment."""
    silence = np.zeros(16000, dtype=np.float32)
    soundfile.write(str(path), np.concatenate([silence, samples, silence]), 16000, subtype="PCM_16")
    return path


def first_final(driver, url: str) -> str:
    """Open the page, press Start, and return the text of the first final line (after its start time)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    assert driver.find_element(By.ID, "toggle").text == "Start"
    driver.find_element(By.ID, "toggle").click()
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#finals .final"))
    line = driver.find_elements(By.CSS_SELECTOR, "#finals .final")[0].text
    return line.split("s", 1)[1]  # after the start time, e.g. "1.0s"


def test_page_shows_the_final_text_of_the_fake_microphone(tmp_path, espeak):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    spoken = tmp_path / "spoken.wav"
    subprocess.run([espeak, "-w", str(spoken), SENTENCE], check=True)
    microphone = looped_microphone(tmp_path / "microphone.wav", load_audio(spoken, 16000))
    recognizer = StreamingRecognizer(Transcriber("models/synthetic-small.pt", lm="models/lm"))
    with running_server(recognizer) as url:
        driver = browser(tmp_path, microphone)
        try:
            assert first_final(driver, url) == SENTENCE
            assert driver.find_element(By.ID, "status").text == "listening"
            # the next pass of the looped file: partial text under the final, and the level meter moving
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "partial").text
                                            and d.find_element(By.ID, "level").value_of_css_property("width")
                                            not in ("0px", "0"))
            driver.save_screenshot(os.environ.get("ASR_PAGE_SCREENSHOT", str(tmp_path / "page.png")))
            driver.find_element(By.ID, "toggle").click()  # stop: the server sends its last finals and closes
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "status").text == "stopped")
            assert driver.find_element(By.ID, "toggle").text == "Start"
        finally:
            driver.quit()


def test_page_transcribes_a_person_with_the_model_for_people(tmp_path):
    """A recording of a person (hedgewars-data, which `make install` installs) as the microphone, the default model
    of `asr serve` (models/whisper-bilstm.pt, whose encoder states are computed again for each partial)."""
    recording = "/usr/share/games/hedgewars/Data/Sounds/voices/Default/Boring.ogg"
    if not os.path.isfile(recording):
        pytest.skip(f"{recording} is absent: Debian's hedgewars-data is not installed (`make install` installs it)")
    microphone = looped_microphone(tmp_path / "microphone.wav", load_audio(recording, 16000))
    with running_server(StreamingRecognizer(Transcriber("models/whisper-bilstm.pt"))) as url:
        driver = browser(tmp_path, microphone)
        try:
            assert first_final(driver, url) == "this is so boring"
        finally:
            driver.quit()
