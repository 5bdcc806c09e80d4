package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *server) getJob(c echo.Context) error {
	j, err := s.Service.JobGet(c.Request().Context(), userID(c), c.Param("job_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

func (s *server) getBatchJob(c echo.Context) error {
	j, err := s.Service.BatchJobGet(c.Request().Context(), userID(c), c.Param("batch_id"), c.Param("job_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

func (s *server) batchJobCIF(c echo.Context) error {
	return s.jobDownload(c, c.Param("batch_id"), "cif")
}

func (s *server) batchJobFile(c echo.Context) error {
	return s.jobDownload(c, c.Param("batch_id"), c.Param("name"))
}

func (s *server) jobFile(c echo.Context) error {
	return s.jobDownload(c, "", c.Param("name"))
}

// jobDownload sends a file of a job's folder; batchID is "" for an
// individual job.
func (s *server) jobDownload(c echo.Context, batchID, name string) error {
	d, err := s.Service.JobFile(c.Request().Context(), userID(c), batchID, c.Param("job_id"), name)
	if err != nil {
		return err
	}
	return download(c, d)
}
