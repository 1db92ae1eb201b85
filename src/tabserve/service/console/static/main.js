// The console's only entry script (a module; the CSP allows no inline script).
import { setUpActions } from "./actions.js";
import { forgetToken, showTokenState } from "./auth.js";
import { setUpJobs } from "./jobs.js";
import { setUpPredict } from "./predict.js";
import { setUpTraining } from "./train.js";

showTokenState();
const forget = document.querySelector("[data-forget-token]");
if (forget) forget.addEventListener("click", forgetToken);
setUpActions();
setUpJobs();
setUpTraining();
setUpPredict();
